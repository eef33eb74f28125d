"""``tickethub bench orders``: order intake throughput of N hub processes, against a baseline.

What one run does, in order:

1. creates a fresh database — a SQLite file in a temporary directory, or a new PostgreSQL
   database ``tickethub_bench_<random>`` that is dropped at the end, whatever happens;
2. starts N hub processes on it (`hub.testing.processes.HubProcesses`) and seeds, through
   the admin API, one venue, one product and one hot slot of capacity K (< M) plus a
   separate warm-up slot on another day;
3. warms up (connections, caches, prepared statements) on the warm-up slot, then sends
   the M measured box-office orders (quantity 1, each with its own Idempotency-Key),
   C at a time, round-robin over the processes;
4. reads ``/api/admin/audit`` for the hot slot: ``oversold`` counts allocations of live
   orders beyond capacity, from the orders themselves, not from the counters;
5. stops the hub, then does the same with the baseline server (`hub.bench.baseline`):
   same N, C, M, K, same database, its own fresh table;
6. prints ONE JSON line on stdout.

``accepted_per_s`` (hub and baseline alike) = accepted orders ÷ seconds from the start of
the measured load until the last accepted order completed (see `hub.bench.load`);
``ratio`` = hub ``accepted_per_s`` ÷ baseline ``accepted_per_s``.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from sqlalchemy.engine import make_url

from hub.bench import baseline
from hub.bench.load import LoadResult, Outcome, Request, run_load
from hub.testing.processes import HubAdmin, HubProcesses, ServerProcesses, python_module_argv

DEFAULT_PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
VENUE = "bench-venue"
PRODUCT = "bench-ticket"
POOL = "bench"
HOT_SLOT = "10:00-11:00"
WARMUP_SLOT = "14:00-15:00"
TIMEZONE = "Asia/Shanghai"
HOT_ROW, WARMUP_ROW = 1, 2


@dataclass(frozen=True, slots=True)
class BenchConfig:
    db: str  # "sqlite" | "postgres"
    processes: int
    concurrency: int
    orders: int
    capacity: int
    warmup: int
    pg_url: str = DEFAULT_PG_URL
    run_timeout: float = 300.0


def default_warmup(orders: int, concurrency: int) -> int:
    """Enough requests to open every pooled connection a few times, never more than 500."""
    return min(500, max(2 * concurrency, orders // 10, 20))


@contextlib.asynccontextmanager
async def fresh_database(kind: str, pg_url: str = DEFAULT_PG_URL) -> AsyncIterator[str]:
    """Yield the URL of an empty database that is removed afterwards."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="tickethub-bench-") as tmp:
            yield f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        return
    if kind != "postgres":
        raise ValueError(f"unknown database kind {kind!r}")
    import asyncpg

    server = make_url(pg_url)
    name = f"tickethub_bench_{uuid.uuid4().hex[:12]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(
            host=server.host or "127.0.0.1",
            port=server.port or 5432,
            user=server.username or "postgres",
            password=server.password,
            database=server.database or "postgres",
        )
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    await admin(f'CREATE DATABASE "{name}"')
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def bench_days(today: date | None = None) -> tuple[str, str]:
    """(hot day, warm-up day): a week ahead in the venue's timezone, clear of any
    booking cut-off, and on different days so the warm-up never touches the hot slot."""
    base = today or datetime.now(ZoneInfo(TIMEZONE)).date()
    return (base + timedelta(days=7)).isoformat(), (base + timedelta(days=8)).isoformat()


async def seed_catalog(admin: HubAdmin) -> None:
    """One venue and one single product without rules, drawing from pool `POOL`."""
    await admin.put_venue(VENUE, "Bench Scenic Area", TIMEZONE)
    await admin.put_product(
        PRODUCT,
        {
            "venue_id": VENUE,
            "name": "Bench admission",
            "kind": "single",
            "pool": POOL,
            "prices": [{"amount": 8000, "channel": "*"}],
            "rules": {},
            "valid_days": 1,
        },
    )


async def seed_hub(admin: HubAdmin, hot_day: str, warm_day: str, capacity: int, warm: int) -> None:
    """The catalog, the hot slot (capacity K) and the warm-up slot on another day."""
    await seed_catalog(admin)
    await admin.put_inventory(POOL, hot_day, hot_day, [(HOT_SLOT, capacity)])
    await admin.put_inventory(POOL, warm_day, warm_day, [(WARMUP_SLOT, warm)])


def hub_order(
    token: str, day: str, slot: str, run: str, quantity: Callable[[int], int] = lambda _i: 1
) -> Callable[[int], Request]:
    """Request ``i``: one box-office order of ``quantity(i)`` units of `PRODUCT`, with its
    own Idempotency-Key (``run`` keeps keys of separate runs apart)."""
    headers = {"Authorization": f"Bearer {token}"}

    def make(i: int) -> Request:
        return Request(
            "/api/boxoffice/orders",
            {
                "travel_date": day,
                "slot": slot,
                "lines": [{"product_id": PRODUCT, "quantity": quantity(i)}],
                "contact": {"name": "Bench", "phone": "13800000000"},
                "confirm": True,
            },
            {**headers, "Idempotency-Key": f"{run}-{i}"},
        )

    return make


def baseline_order(row: int) -> Callable[[int], Request]:
    def make(_i: int) -> Request:
        return Request("/orders", {"id": row, "quantity": 1})

    return make


class _Display:
    """Progress bars on stderr; silent with ``--json-only``."""

    def __init__(self, quiet: bool) -> None:
        self.console = Console(stderr=True, quiet=quiet)
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description:<22}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[note]}"),
            TimeElapsedColumn(),
            console=self.console,
            disable=quiet,
            transient=False,
        )

    def log(self, message: str) -> None:
        self.progress.console.print(message)

    async def load(
        self,
        label: str,
        urls: list[str],
        make: Callable[[int], Request],
        total: int,
        cfg: BenchConfig,
    ) -> LoadResult:
        task = self.progress.add_task(label, total=total, note="")
        counts = {"ok": 0, "no": 0}

        def done(outcome: Outcome) -> None:
            counts["ok" if outcome.code == "ACCEPTED" else "no"] += 1
            self.progress.update(
                task,
                advance=1,
                note=f"[green]{counts['ok']} sold[/] [yellow]{counts['no']} refused[/]",
            )

        return await run_load(
            urls,
            make,
            total=total,
            concurrency=cfg.concurrency,
            run_timeout=cfg.run_timeout,
            on_done=done,
        )


async def run_bench(cfg: BenchConfig, *, quiet: bool = False) -> dict[str, Any]:
    """Run the hub phase and the baseline phase; return the figures for the JSON line."""
    show = _Display(quiet)
    hot_day, warm_day = bench_days()
    run = uuid.uuid4().hex[:8]
    with show.progress:
        async with fresh_database(cfg.db, cfg.pg_url) as url:
            show.log(f"[bold]database[/] {make_url(url).render_as_string(hide_password=True)}")
            hub, oversold = await _hub_phase(cfg, url, hot_day, warm_day, run, show)
            base = await _baseline_phase(cfg, url, show)
    return {
        "db": cfg.db,
        "processes": cfg.processes,
        "concurrency": cfg.concurrency,
        "orders": cfg.orders,
        "capacity": cfg.capacity,
        "accepted": hub.accepted,
        "sold_out": hub.sold_out,
        "oversold": oversold,
        "accepted_per_s": round(hub.accepted_per_s, 1),
        "p50_ms": round(hub.p50_ms, 2),
        "p99_ms": round(hub.p99_ms, 2),
        "baseline_per_s": round(base.accepted_per_s, 1),
        "baseline_p50_ms": round(base.p50_ms, 2),
        "baseline_p99_ms": round(base.p99_ms, 2),
        "ratio": round(hub.accepted_per_s / base.accepted_per_s, 3) if base.accepted_per_s else 0.0,
        "errors": hub.errors,
        "baseline_errors": base.errors,
    }


async def _hub_phase(
    cfg: BenchConfig, url: str, hot_day: str, warm_day: str, run: str, show: _Display
) -> tuple[LoadResult, int]:
    show.log(f"[bold]hub[/] starting {cfg.processes} process(es)")
    # the order path itself is measured, as in the README's tables: no access log line
    quiet = {"TICKETHUB_ACCESS_LOG": "0"}
    async with (
        HubProcesses(url, cfg.processes, env=quiet) as hubs,
        aiohttp.ClientSession() as http,
    ):
        admin = HubAdmin(http, hubs.urls[0], hubs.admin_token)
        await seed_hub(admin, hot_day, warm_day, cfg.capacity, cfg.warmup)
        token = hubs.boxoffice_token
        await show.load(
            "hub warm-up",
            hubs.urls,
            hub_order(token, warm_day, WARMUP_SLOT, f"w{run}"),
            cfg.warmup,
            cfg,
        )
        result = await show.load(
            "hub orders",
            hubs.urls,
            hub_order(token, hot_day, HOT_SLOT, f"m{run}"),
            cfg.orders,
            cfg,
        )
        audit = await admin.audit(POOL, hot_day)
    oversold = sum(int(s["oversold"]) for s in audit if s["slot"] == HOT_SLOT)
    allocated = sum(int(s["allocated"]) for s in audit if s["slot"] == HOT_SLOT)
    show.log(
        f"[bold]hub[/] {result.accepted} accepted, audit: {allocated}/{cfg.capacity} allocated, "
        f"oversold {oversold}"
    )
    return result, oversold


async def _baseline_phase(cfg: BenchConfig, url: str, show: _Display) -> LoadResult:
    await baseline.setup_rows(url, {HOT_ROW: cfg.capacity, WARMUP_ROW: cfg.warmup})
    show.log(f"[bold]baseline[/] starting {cfg.processes} process(es)")

    def argv(port: int) -> list[str]:
        return python_module_argv("hub.bench.baseline", "--port", str(port), "--database-url", url)

    async with ServerProcesses(argv, cfg.processes, name="baseline") as servers:
        await show.load(
            "baseline warm-up", servers.urls, baseline_order(WARMUP_ROW), cfg.warmup, cfg
        )
        result = await show.load(
            "baseline orders", servers.urls, baseline_order(HOT_ROW), cfg.orders, cfg
        )
    capacity, sold = (await baseline.read_rows(url))[HOT_ROW]
    if sold > capacity:  # the conditional update makes this impossible; say so loudly if not
        raise RuntimeError(f"baseline oversold: {sold} > {capacity}")
    return result


def bench_env_pg_url() -> str:
    """The PostgreSQL server to create the bench database on (``TICKETHUB_BENCH_PG_URL``)."""
    return os.environ.get("TICKETHUB_BENCH_PG_URL", DEFAULT_PG_URL)

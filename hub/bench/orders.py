"""``tickethub bench orders``: order intake throughput of N hub processes, against the
fastest correct endpoint (the ceiling) and the old per-request baseline, in one run.

What one run does, in order:

1. creates a fresh database — a SQLite file in a temporary directory, or a new PostgreSQL
   database ``tickethub_bench_<random>`` that is dropped at the end, whatever happens;
2. starts N hub processes on it (`hub.testing.processes.HubProcesses`) and seeds, through
   the admin API, one venue, one product and S hot slots sharing capacity K (< M; S = 1
   unless ``--slots``) plus a separate warm-up slot on another day;
3. warms up (connections, caches, prepared statements) on the warm-up slot, then sends
   the M measured box-office orders (quantity 1, each with its own Idempotency-Key,
   order ``i`` to slot ``i % S``), C at a time, round-robin over the processes, while the
   processes' CPU is sampled from /proc (`hub.bench.procstat`); with ``--sse-clients N``,
   N flow-wall streams stay open meanwhile, from a process of their own
   (`hub.bench.wall_clients`), and afterwards every one must show the hub's count of
   orders sold (``sse_walls_current``);
4. reads ``/api/admin/audit`` for the hot day: ``oversold`` counts allocations of live
   orders beyond capacity, from the orders themselves, not from the counters;
5. stops the hub, then does the same with the ceiling (`hub.bench.ceiling`: aiohttp,
   uvloop, stdlib sqlite3 in a writer thread or prepared asyncpg statements, group commit
   with the hub's durability) and with the per-request baseline (`hub.bench.baseline`:
   one transaction per order): same N, C, M, K and slots, same database, own tables;
6. prints ONE JSON line on stdout.

``accepted_per_s`` (hub, ceiling and per-request baseline alike) = accepted orders ÷
seconds from the start of the measured load until the last accepted order completed (see
`hub.bench.load`); ``ratio`` = hub ÷ ceiling; ``cpu_ms_per_order`` = the server
processes' CPU time until that same instant ÷ accepted orders.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
from sqlalchemy.engine import make_url

from hub.bench import baseline, ceiling
from hub.bench.display import Display, Phase
from hub.bench.load import Request
from hub.testing.processes import HubAdmin, HubProcesses, ServerProcesses, python_module_argv

DEFAULT_PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
VENUE = "bench-venue"
PRODUCT = "bench-ticket"
POOL = "bench"
HOT_SLOT = "10:00-11:00"
WARMUP_SLOT = "14:00-15:00"
TIMEZONE = "Asia/Shanghai"
WARMUP_ROW, HOT_ROW = 1, 2  # hot rows are HOT_ROW .. HOT_ROW + slots - 1
MAX_SLOTS = 100


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
    slots: int = 1
    request_timeout: float = 30.0
    sse_clients: int = 0  # flow-wall streams kept open during the hub phase
    lb: str = ""  # "haproxy": the load goes through HAProxy in front of the processes
    history: int = 0  # past orders preloaded before the measured load (`hub.bench.history`)


def hot_slots(n: int) -> list[str]:
    """``n`` ten-minute slots from 06:00 (one is the classic 10:00-11:00 hot slot)."""
    if n == 1:
        return [HOT_SLOT]
    if not 1 <= n <= MAX_SLOTS:
        raise ValueError(f"slots must be between 1 and {MAX_SLOTS}")
    out = []
    for i in range(n):
        start = 6 * 60 + 10 * i
        out.append(
            f"{start // 60:02d}:{start % 60:02d}-{(start + 10) // 60:02d}:{(start + 10) % 60:02d}"
        )
    return out


def split_capacity(total: int, n: int) -> list[int]:
    """``total`` units over ``n`` slots, as evenly as possible (the first get the rest)."""
    base, rest = divmod(total, n)
    return [base + (1 if i < rest else 0) for i in range(n)]


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


async def seed_hub(
    admin: HubAdmin, hot_day: str, warm_day: str, capacity: int, warm: int, slots: int = 1
) -> None:
    """The catalog, the hot slots (capacity K spread over them) and the warm-up slot on
    another day."""
    await seed_catalog(admin)
    codes = hot_slots(slots)
    await admin.put_inventory(
        POOL, hot_day, hot_day, list(zip(codes, split_capacity(capacity, slots), strict=True))
    )
    await admin.put_inventory(POOL, warm_day, warm_day, [(WARMUP_SLOT, warm)])


def hub_order(
    token: str,
    day: str,
    slot: str | Sequence[str],
    run: str,
    quantity: Callable[[int], int] = lambda _i: 1,
) -> Callable[[int], Request]:
    """Request ``i``: one box-office order of ``quantity(i)`` units of `PRODUCT` for slot
    ``i % len(slots)``, with its own Idempotency-Key (``run`` keeps runs apart)."""
    headers = {"Authorization": f"Bearer {token}"}
    codes = [slot] if isinstance(slot, str) else list(slot)

    def make(i: int) -> Request:
        return Request(
            "/api/boxoffice/orders",
            {
                "travel_date": day,
                "slot": codes[i % len(codes)],
                "lines": [{"product_id": PRODUCT, "quantity": quantity(i)}],
                "contact": {"name": "Bench", "phone": "13800000000"},
                "confirm": True,
            },
            {**headers, "Idempotency-Key": f"{run}-{i}"},
        )

    return make


def baseline_order(row: int, rows: int = 1) -> Callable[[int], Request]:
    """Request ``i`` of the ceiling or baseline: one unit of row ``row + i % rows``."""

    def make(i: int) -> Request:
        return Request("/orders", {"id": row + i % rows, "quantity": 1})

    return make


async def run_bench(cfg: BenchConfig, *, quiet: bool = False) -> dict[str, Any]:
    """Run the hub, ceiling and per-request baseline phases; the figures for the JSON line."""
    show = Display(quiet)
    hot_day, warm_day = bench_days()
    run = uuid.uuid4().hex[:8]
    with show.progress:
        async with fresh_database(cfg.db, cfg.pg_url) as url:
            show.log(f"[bold]database[/] {make_url(url).render_as_string(hide_password=True)}")
            hub, oversold, walls, loaded = await _hub_phase(cfg, url, hot_day, warm_day, run, show)
            ceil = await _server_phase(cfg, url, show, "ceiling")
            per_request = await _server_phase(cfg, url, show, "baseline")
    return {
        "db": cfg.db,
        "processes": cfg.processes,
        "concurrency": cfg.concurrency,
        "orders": cfg.orders,
        "capacity": cfg.capacity,
        "slots": cfg.slots,
        "accepted": hub.load.accepted,
        "sold_out": hub.load.sold_out,
        "oversold": oversold,
        "accepted_per_s": round(hub.load.accepted_per_s, 1),
        "p50_ms": round(hub.load.p50_ms, 2),
        "p99_ms": round(hub.load.p99_ms, 2),
        "cpu_ms_per_order": hub.cpu_ms_per_order,
        "rss_mb": hub.rss_mb,
        "baseline": "ceiling: aiohttp+uvloop, group-committed conditional UPDATE + INSERT "
        + ("(sqlite3 writer thread)" if cfg.db == "sqlite" else "(asyncpg, prepared)"),
        **ceil.figures("baseline_"),
        "ratio": _ratio(hub, ceil),
        **per_request.figures("baseline_per_request_"),
        "ratio_per_request": _ratio(hub, per_request),
        "sse_clients": cfg.sse_clients,
        **walls,
        "lb": cfg.lb or "none",
        "history": cfg.history,
        "history_load_s": round(loaded, 1) if cfg.history else None,
        "errors": hub.load.errors,
        "baseline_errors": ceil.load.errors,
        "baseline_per_request_errors": per_request.load.errors,
    }


def _ratio(hub: Phase, other: Phase) -> float:
    theirs = other.load.accepted_per_s
    return round(hub.load.accepted_per_s / theirs, 3) if theirs else 0.0


@contextlib.asynccontextmanager
async def balanced(cfg: BenchConfig, urls: list[str], show: Display) -> AsyncIterator[list[str]]:
    """The URLs the load goes to: the processes themselves (the client round-robins),
    or with ``--lb haproxy`` the one HAProxy frontend in front of them."""
    if cfg.lb != "haproxy":
        yield urls
        return
    from hub.bench.haproxy import HAProxy

    async with HAProxy(urls) as lb:
        show.log(f"[bold]haproxy[/] {lb.url} -> {len(urls)} process(es)")
        yield [lb.url]


async def _hub_phase(
    cfg: BenchConfig, url: str, hot_day: str, warm_day: str, run: str, show: Display
) -> tuple[Phase, int, dict[str, Any], float]:
    """The hub's warm-up and measured load (with ``cfg.sse_clients`` flow-wall streams
    open on the processes, round-robin, from a process of their own); the phase, units
    oversold, what the wall clients saw (`_wall_figures`) and the seconds the history
    took to load."""
    from hub.bench.history import load_history
    from hub.bench.wall_clients import WallClientsProcess

    show.log(f"[bold]hub[/] starting {cfg.processes} process(es)")
    # the order path itself is measured, as in the README's tables: no access log line
    quiet = {"TICKETHUB_ACCESS_LOG": "0"}
    async with (
        HubProcesses(url, cfg.processes, env=quiet) as hubs,
        aiohttp.ClientSession() as http,
    ):
        admin = HubAdmin(http, hubs.urls[0], hubs.admin_token)
        await seed_hub(admin, hot_day, warm_day, cfg.capacity, cfg.warmup, cfg.slots)
        loaded = 0.0
        if cfg.history:
            show.log(f"[bold]history[/] loading {cfg.history} past orders")
            got = await load_history(url, cfg.history, VENUE, PRODUCT)
            loaded = got.seconds
            show.log(
                f"[bold]history[/] {got.orders} orders, {got.tickets} tickets, "
                f"{got.redemptions} redemptions in {got.seconds:.1f} s"
            )
        token = hubs.boxoffice_token
        if cfg.sse_clients:
            show.log(f"[bold]hub[/] {cfg.sse_clients} flow-wall streams open (own process)")
        async with (
            WallClientsProcess(hubs.urls, hubs.admin_token, cfg.sse_clients) as walls,
            balanced(cfg, hubs.urls, show) as urls,
        ):
            await show.load(
                "hub warm-up",
                urls,
                hub_order(token, warm_day, WARMUP_SLOT, f"w{run}"),
                cfg.warmup,
                cfg,
            )
            before = await walls.ask("status")
            result = await show.measured(
                "hub orders",
                urls,
                hub_order(token, hot_day, hot_slots(cfg.slots), f"m{run}"),
                cfg,
                hubs.pids,
            )
            after = await walls.ask("status")
            caught_up: dict[str, Any] = {}
            if cfg.sse_clients:
                # the hub's own figure now: every client's wall must come to show it
                async with http.get(
                    f"{hubs.urls[0]}/api/admin/wall",
                    params={"venue": VENUE},
                    headers={"Authorization": f"Bearer {hubs.admin_token}"},
                ) as resp:
                    sold = int((await resp.json())["sales"]["totals"]["orders"])
                caught_up = await walls.until_orders(sold, WALL_CATCH_UP_SECONDS)
                caught_up["sold"] = sold
        audit = await admin.audit(POOL, hot_day)
    oversold = sum(int(s["oversold"]) for s in audit)
    allocated = sum(int(s["allocated"]) for s in audit)
    show.log(
        f"[bold]hub[/] {result.load.accepted} accepted, audit: {allocated}/{cfg.capacity} "
        f"allocated, oversold {oversold}"
    )
    walls_seen = _wall_figures(before, after, caught_up, result.load.accepted)
    return result, oversold, walls_seen, loaded


#: how long, after the load, every client's wall may take to show the last order
WALL_CATCH_UP_SECONDS = 10.0


def _wall_figures(
    before: dict[str, Any], after: dict[str, Any], caught_up: dict[str, Any], accepted: int
) -> dict[str, Any]:
    """The JSON fields of the wall clients: snapshots received during the measured load
    (all clients; the fewest any one got), whether every client's wall came to show the
    hub's count of orders sold and how long after the load, and the clients' own CPU
    per order (their process, not the hub's)."""
    cpu = after["cpu_s"] - before["cpu_s"]
    return {
        "sse_events": after["events"] - before["events"],
        "sse_events_min_per_client": after["events_min"] - before["events_min"]
        if caught_up
        else None,
        "sse_walls_current": caught_up.get("reached"),
        "sse_catch_up_ms": caught_up.get("waited_ms"),
        "sse_clients_cpu_ms_per_order": round(cpu * 1000 / accepted, 3)
        if caught_up and accepted
        else None,
    }


async def _server_phase(cfg: BenchConfig, url: str, show: Display, kind: str) -> Phase:
    """The ceiling (``kind="ceiling"``) or the per-request baseline, on fresh rows."""
    rows = {WARMUP_ROW: cfg.warmup}
    rows |= {HOT_ROW + i: c for i, c in enumerate(split_capacity(cfg.capacity, cfg.slots))}
    if kind == "ceiling":
        await ceiling.setup(url, rows)
    else:
        await baseline.setup_rows(url, rows)
    show.log(f"[bold]{kind}[/] starting {cfg.processes} process(es)")
    module = "hub.bench.ceiling" if kind == "ceiling" else "hub.bench.baseline"

    def argv(port: int) -> list[str]:
        return python_module_argv(module, "--port", str(port), "--database-url", url)

    async with (
        ServerProcesses(argv, cfg.processes, name=kind) as servers,
        balanced(cfg, servers.urls, show) as urls,
    ):
        await show.load(f"{kind} warm-up", urls, baseline_order(WARMUP_ROW), cfg.warmup, cfg)
        result = await show.measured(
            f"{kind} orders",
            urls,
            baseline_order(HOT_ROW, cfg.slots),
            cfg,
            servers.pids,
        )
    counts = await baseline.read_rows(url)
    over = {r: (c, s) for r, (c, s) in counts.items() if s > c}
    if over:  # the conditional update makes this impossible; say so loudly if not
        raise RuntimeError(f"{kind} oversold: {over}")
    if kind == "ceiling":
        units = await ceiling.order_units(url)
        wrong = {r: (units.get(r, 0), s) for r, (_c, s) in counts.items() if units.get(r, 0) != s}
        if wrong:
            raise RuntimeError(f"ceiling order rows disagree with the counters: {wrong}")
    return result


def bench_env_pg_url() -> str:
    """The PostgreSQL server to create the bench database on (``TICKETHUB_BENCH_PG_URL``)."""
    return os.environ.get("TICKETHUB_BENCH_PG_URL", DEFAULT_PG_URL)

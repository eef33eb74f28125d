"""``tickethub bench stocksync``: how fast the OTAs learn what a WeChat sale left.

One run: the hub in a process of its own (``python -m hub serve``, as it is deployed,
started like `tickethub bench orders` starts hubs: `hub.testing.processes`); the four
sandbox OTAs (and Meituan's and Douyin's pulls) on an event loop of their own in a thread
(`PartnerLoop`); the WeChat simulator and the selling clients on this process's loop (on
loopback ports; no waits but the partners' own). With everything on one loop the bench
measured the loop, not the push: a sale's commit, and an OTA's receipt of its push,
waited behind the benchmark's own clients (WeChat Pay's RSA signing of every order).

1. a fresh database (a SQLite file in a temporary directory unless a URL of an EMPTY
   database is given), a hub serving on a free port with its channels pointed at the
   sandboxes: Ctrip (``DateInventoryModify``, its per-resource window set to
   ``ctrip_window`` seconds — Ctrip documents about a minute, which a benchmark need not
   wait), Meituan (change notice, then it pulls the calendar), Fliggy (TOP
   ``alitrip.ticket.skus.upload``), Douyin (pull-only: it polls the stock SPI every
   ``douyin_every`` seconds); every sandbox enforces its documented limits and records
   what it was told with its receive time (`sandbox.ota.stock_book`);
2. one product on one day with capacity ``changes + 50``; its first stock reaches every
   OTA before the clock starts;
3. ``changes`` WeChat orders of one ticket each, ``concurrency`` at a time, as fast as
   the hub takes them (visitors logged in beforehand). The stock moves when WeChat's
   order is placed (held for payment), so that commit is the change measured; its time
   is bounded from below by the order's ``created_at``, stamped in the hub when the order
   was queued for its group-commit writer, BEFORE the commit (see `_committed`): lags are
   if anything over-stated by the writer's wait, never under-stated (the HTTP answer
   comes only after WeChat's prepay call, too late to start the clock);
4. waits (bounded) until every OTA holds the hub's final number.

Lag of a change to one partner: from the change's commit to the first receipt whose
quantity already reflects it (≤ the stock right after that change). ``lag_p50_ms`` /
``lag_p99_ms`` are over the partners whose limits allow a push per change (Meituan,
Fliggy, Douyin's pulls); Ctrip's per-resource window forbids it, so for Ctrip the figure
that counts is ``final_ms`` — last commit to receipt of the final number — against its
``window_ms``. ``final_consistent``: every OTA's last number equals the hub's.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, TypeVar

import aiohttp

from hub.testing.processes import HubAdmin, HubProcesses, free_port

PRODUCT = "stocksync-ticket"
POOL = "stocksync"
VENUE = "stocksync-venue"
HEADROOM = 50
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class BenchStockConfig:
    changes: int = 500
    concurrency: int = 32
    database_url: str | None = None
    ctrip_window: float = 5.0
    douyin_every: float = 0.2
    settle_seconds: float = 60.0


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 1)


def lags(commits: list[float], initial: int, receipts: list[tuple[float, int]]) -> list[float]:
    """Per change (commits in time order, stock ``initial - k`` after the k-th), the time
    until the partner first received a quantity reflecting it; changes never reflected
    are left out (``final_consistent`` tells)."""
    out = []
    ordered = sorted(receipts)
    for k, at in enumerate(sorted(commits), start=1):
        after = initial - k
        seen = next((t for t, q in ordered if q <= after), None)
        if seen is not None:
            out.append(max(0.0, seen - at))
    return out


async def _committed(database_url: str) -> list[float]:
    """When each order's hold was committed, as epoch seconds, bounded from below: the
    order's ``created_at``, stamped in the hub process when the order was queued for its
    group-commit writer, before that writer's COMMIT. Read from the database, since the
    hub runs in another process; a change's lag counted from here includes the writer's
    wait, so it is never under-stated (the k-th commit is no earlier than the k-th
    ``created_at``)."""
    from sqlalchemy import select

    from hub.storage.db import create_engine
    from hub.storage.tables import OrderRow

    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            stamps = (await conn.execute(select(OrderRow.created_at))).scalars().all()
    finally:
        await engine.dispose()
    return sorted(s.timestamp() for s in stamps)


def _hub_env(channels: dict[str, dict[str, str]]) -> dict[str, str]:
    """The hub process's settings (``TICKETHUB_*``; the rest are `HubProcesses`' own)."""
    return {
        "TICKETHUB_CHANNEL_SETTINGS": json.dumps(channels),
        "TICKETHUB_OUTBOX_WORKERS": "2",
        "TICKETHUB_STOCK_PUSH_SECONDS": "0.05",
        "TICKETHUB_HOLD_TTL_SECONDS": "3600",
        "TICKETHUB_ALERT_EVAL_SECONDS": "0",
    }


class PartnerLoop:
    """An event loop in a thread of its own for the sandbox partners, so the time an OTA
    records a push is when it arrived, not when the selling clients let the loop go."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, name="bench-partners", daemon=True)

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def start(self) -> None:
        self._thread.start()

    async def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the partners' loop and await its result from this one."""
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop))

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        if not self._thread.is_alive():
            self.loop.close()


async def _session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession()


async def _start_puller(puller: Any) -> None:
    puller.start()


@contextlib.asynccontextmanager
async def _database(url: str | None) -> AsyncIterator[str]:
    if url is not None:
        yield url
        return
    with tempfile.TemporaryDirectory(prefix="stocksync-") as tmp:
        yield f"sqlite+aiosqlite:///{Path(tmp) / 'hub.db'}"


async def bench_stocksync(cfg: BenchStockConfig) -> dict[str, Any]:
    from sandbox.demo import ctrip as demo_ctrip
    from sandbox.demo import douyin as demo_douyin
    from sandbox.demo import fliggy as demo_fliggy
    from sandbox.demo import meituan as demo_meituan
    from sandbox.demo import wechat as demo_wechat
    from sandbox.demo.wechat_client import MiniProgramClient
    from sandbox.ota.douyin import DouyinClient
    from sandbox.ota.douyin_stock import DouyinStockPuller
    from sandbox.ota.meituan import MeituanClient

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    partners = PartnerLoop()
    partners.start()
    wechat = await demo_wechat.start_sandbox(port)
    ctrip = await partners.run(demo_ctrip.start_sandbox(port))
    meituan = await partners.run(demo_meituan.start_sandbox(port))
    douyin = await partners.run(demo_douyin.start_sandbox(port))
    fliggy = await partners.run(demo_fliggy.start_sandbox(port))
    sandboxes = (ctrip, meituan, douyin, fliggy)
    partner_http = await partners.run(_session())  # the partners' own pulls
    ctrip.server.stock.window_seconds = cfg.ctrip_window
    channels = {
        "wechat": wechat.settings,
        "ctrip": {**ctrip.settings, "CTRIP_STOCK_WINDOW_SECONDS": str(cfg.ctrip_window)},
        "meituan": meituan.settings,
        "douyin": douyin.settings,
        "fliggy": fliggy.settings,
    }
    day = date.today() + timedelta(days=2)
    initial = cfg.changes + HEADROOM
    try:
        async with _database(cfg.database_url) as url, aiohttp.ClientSession() as http:
            hubs = HubProcesses(url, env=_hub_env(channels), ports=[port])
            await hubs.start()
            try:
                meituan.server.puller = MeituanClient(
                    partner_id=meituan.settings["MEITUAN_PARTNER_ID"],
                    client_id=meituan.settings["MEITUAN_CLIENT_ID"],
                    client_secret=meituan.settings["MEITUAN_CLIENT_SECRET"],
                    aes_key=meituan.settings["MEITUAN_AES_KEY"],
                    http=partner_http,
                    base_url=base,
                )
                puller = DouyinStockPuller(
                    DouyinClient(
                        douyin.settings["DOUYIN_CLIENT_KEY"],
                        douyin.settings["DOUYIN_CLIENT_SECRET"],
                        partner_http,
                        base_url=base,
                    ),
                    [PRODUCT],
                    day,
                    every_seconds=cfg.douyin_every,
                )
                admin = HubAdmin(http, base, hubs.admin_token)
                await admin.put_venue(VENUE, "Stock sync")
                await admin.put_product(
                    PRODUCT,
                    {"venue_id": VENUE, "name": "Ticket", "pool": POOL,
                     "prices": [{"amount": 10000}]},
                )  # fmt: skip
                await admin.put_inventory(
                    POOL, day.isoformat(), day.isoformat(), [("", initial)]
                )
                books = {
                    "ctrip": ctrip.server.stock,
                    "meituan": meituan.server.stock,
                    "fliggy": fliggy.server.stock,
                    "douyin": puller.book,
                }
                await partners.run(_start_puller(puller))
                d = day.isoformat()

                async def everyone_shows(n: int, timeout: float) -> bool:
                    end = time.monotonic() + timeout
                    while time.monotonic() < end:
                        if all(b.shows(PRODUCT, d) == n for b in books.values()):
                            return True
                        await asyncio.sleep(0.02)
                    return False

                ready = await everyone_shows(initial, cfg.settle_seconds)
                marks = {name: len(b.seen) for name, b in books.items()}
                visitors = []
                for i in range(min(cfg.concurrency, cfg.changes)):
                    mp = MiniProgramClient(http, base)
                    await mp.login(wechat.sim.issue_js_code(f"o-stocksync-{i}"))
                    visitors.append(mp)
                refused: list[str] = []
                queue: asyncio.Queue[int] = asyncio.Queue()
                for i in range(cfg.changes):
                    queue.put_nowait(i)

                async def sell(mp: MiniProgramClient) -> None:
                    while not queue.empty():
                        i = queue.get_nowait()
                        reply = await mp.order(f"ss-{i:06d}", PRODUCT, d, "", 1)
                        if not reply.ok:
                            refused.append(reply.code)

                started = time.monotonic()
                await asyncio.gather(*(sell(mp) for mp in visitors))
                selling = time.monotonic() - started
                commits = await _committed(url)
                last_commit = max(commits, default=time.time())
                cells = await admin.inventory(POOL, d)
                final = sum(int(c["capacity"]) - int(c["held"]) - int(c["sold"]) for c in cells)
                await everyone_shows(final, cfg.settle_seconds + cfg.ctrip_window)
                await partners.run(puller.stop())
                report = _report(cfg, books, marks, commits, initial, final, last_commit)
                report.update(
                    database="postgresql" if url.startswith("postgresql") else "sqlite",
                    sales_per_s=round(len(commits) / selling, 1) if selling else None,
                    refused_sales=len(refused),
                    initial_reached=ready,
                )
                return report
            finally:
                await hubs.stop()
    finally:
        for sandbox in sandboxes:
            await partners.run(sandbox.stop())
        await partners.run(partner_http.close())
        partners.close()
        await wechat.stop()


def _report(
    cfg: BenchStockConfig,
    books: dict[str, Any],
    marks: dict[str, int],
    commits: list[float],
    initial: int,
    final: int,
    last_commit: float,
) -> dict[str, Any]:
    partners: dict[str, Any] = {}
    unlimited: list[float] = []
    pushes = 0
    for name, book in books.items():
        seen = [s for s in book.seen[marks[name] :] if s.resource == PRODUCT]
        receipts = [(s.at, s.quantity) for s in seen]
        partner_lags = lags(commits, initial, receipts)
        final_at = next((t for t, q in receipts if q == final), None)
        limited = name == "ctrip" and cfg.ctrip_window > 0
        if not limited:
            unlimited.extend(partner_lags)
        if name != "douyin":
            pushes += len(receipts)
        last = book.shows(PRODUCT, seen[0].day) if seen else None
        partners[name] = {
            ("pulls" if name == "douyin" else "pushes"): len(receipts),
            "lag_p50_ms": _ms(_percentile(partner_lags, 0.5)),
            "lag_p99_ms": _ms(_percentile(partner_lags, 0.99)),
            "final_ms": _ms(final_at - last_commit) if final_at is not None else None,
            "final_consistent": last == final,
            "refused_by_partner": len(book.refused),
            **({"window_ms": _ms(cfg.ctrip_window), "per_resource_limited": True}
               if limited else {}),
        }  # fmt: skip
    return {
        "changes": len(commits),
        "pushes": pushes,
        "lag_p50_ms": _ms(_percentile(unlimited, 0.5)),
        "lag_p99_ms": _ms(_percentile(unlimited, 0.99)),
        "final_consistent": all(p["final_consistent"] for p in partners.values()),
        "final_stock": final,
        "partners": partners,
    }

"""Stock push to Ctrip: a sale in any channel (here the box office) lowers the stock the
sandbox Ctrip shows, pushes are coalesced and serialized per product, Ctrip's
per-resource window holds the next push back, and a retried failure never leaves Ctrip
with an older number than the hub's."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from hub.stockpush.targets import expand
from hub.storage.stock_tables import StockDirtyRow, StockPushTargetRow
from tests.ctrip.kit import callback_rig
from tests.stockpush.kit import box_sale, push_all, stock_worker
from tests.support import TOMORROW

DAY = TOMORROW.isoformat()
WINDOW = {"CTRIP_STOCK_WINDOW_SECONDS": "60"}


async def test_a_sale_lowers_the_stock_ctrip_shows(aiohttp_client: Any, db_url: str) -> None:
    async with callback_rig(aiohttp_client, db_url, async_services="", extra=WINDOW) as rig:
        worker = stock_worker(rig)
        await push_all(rig, worker)  # the seed's capacity
        book = rig.receiver.stock
        assert book.shows("adult", DAY) == 10 and book.shows("combo", DAY) == 10
        await box_sale(rig.client, "s1", quantity=3)
        await push_all(rig, worker)
        assert book.shows("adult", DAY) == 7
        assert book.shows("realname", DAY) == 7  # same pool, another Ctrip product
        assert book.shows("combo", DAY) == 7  # a combo drawing on the pool
        assert book.refused == []


async def test_a_burst_is_coalesced_the_last_push_carries_the_final_number(
    aiohttp_client: Any, db_url: str
) -> None:
    async with callback_rig(
        aiohttp_client, db_url, async_services="", capacity=100, extra=WINDOW
    ) as rig:
        worker = stock_worker(rig)
        await push_all(rig, worker)
        book = rig.receiver.stock
        before = len(book.history("adult", DAY))
        for i in range(30):
            await box_sale(rig.client, f"b{i}")
            if i % 10 == 0:  # the pusher ticks during the burst
                await rig.hub.stock.run_once()
                await worker.run_once()
        await push_all(rig, worker)
        pushes = book.history("adult", DAY)[before:]
        assert 1 <= len(pushes) <= 3, [p.quantity for p in pushes]
        assert pushes[-1].quantity == 70
        quantities = [p.quantity for p in pushes]
        assert quantities == sorted(quantities, reverse=True)  # never an older number
        assert book.refused == []  # the per-resource minute was respected


async def test_the_window_holds_the_next_push_back(aiohttp_client: Any, db_url: str) -> None:
    async with callback_rig(aiohttp_client, db_url, async_services="", extra=WINDOW) as rig:
        worker = stock_worker(rig)
        await push_all(rig, worker)
        book = rig.receiver.stock
        book.window_seconds = 60.0  # timed by the hub's clock (`tests.ctrip.kit`)
        start = rig.clock.now()
        await box_sale(rig.client, "w1")
        await rig.hub.stock.run_once()
        await worker.run_once()
        await rig.hub.stock.run_once()
        assert book.shows("adult", DAY) == 10  # not yet: pushed a moment ago (the seed)
        await push_all(rig, worker)
        assert book.shows("adult", DAY) == 9
        assert (rig.clock.now() - start).total_seconds() >= 59
        assert book.refused == []


async def test_a_retried_failure_never_leaves_ctrip_older(aiohttp_client: Any, db_url: str) -> None:
    async with callback_rig(aiohttp_client, db_url, async_services="", extra=WINDOW) as rig:
        worker = stock_worker(rig)
        await push_all(rig, worker)
        book = rig.receiver.stock
        await box_sale(rig.client, "f1")
        rig.receiver.fail_service("DateInventoryModify", "500", "500", "500")
        await rig.hub.stock.run_once()
        await worker.run_once()  # adult's push (stock 9) fails
        await box_sale(rig.client, "f2", quantity=2)  # meanwhile: stock 7
        await push_all(rig, worker)
        told = [s.quantity for s in book.history("adult", DAY)]
        assert told[-1] == 7, told  # Ctrip ends with the hub's number
        assert told == sorted(told, reverse=True), told  # and never went back up
        assert rig.receiver.attempts["DateInventoryModify"] > len(rig.receiver.accepted)


async def test_the_partners_call_budget_is_kept(aiohttp_client: Any, db_url: str) -> None:
    async with callback_rig(aiohttp_client, db_url, async_services="", extra=WINDOW) as rig:
        worker = stock_worker(rig)
        pusher = rig.hub.plugins.stock_pushers.get("ctrip")
        pusher.calls_per_minute = 20  # this instance only: a burst of 2, then 1 per 3.75 s
        book = rig.receiver.stock
        book.per_minute = 20
        await rig.hub.stock.run_once()  # four Ctrip products dirty after the seed
        await worker.run_once()
        assert book.calls == 2  # the budget: the others wait, nothing is refused
        await push_all(rig, worker)  # moves the clock: they go a minute later
        assert {s.resource for s in book.seen} == {"adult", "cable", "combo", "realname"}
        assert book.refused == []


async def test_two_ticks_that_read_the_same_marks_bump_each_target_once(
    aiohttp_client: Any, db_url: str
) -> None:
    """Two ticks (two processes, or the background loop and a caller's `run_once`) that
    read the same marks: only the one whose DELETE took them bumps the targets. Bumped
    twice, a target asked for a second push a whole window later, and in a test on a
    FixedClock that push moved the clock a window on (`push_all`)."""
    async with callback_rig(aiohttp_client, db_url, async_services="", extra=WINDOW) as rig:
        svc = rig.hub.stock
        await svc.stop()  # no background tick: this test plays both ticks
        await push_all(rig, stock_worker(rig))
        await box_sale(rig.client, "twice")
        async with rig.hub.engine.connect() as conn:
            marks = (await conn.execute(select(StockDirtyRow.__table__))).all()
        assert marks
        channels = [p.channel for p in svc._ready()]
        rows = await expand(svc.reads, svc.catalog, marks, channels)
        for _ in range(2):  # both read the marks before either deleted them
            async with rig.hub.engine.begin() as conn:
                await svc._drain(conn, marks, rows)
        t = StockPushTargetRow
        async with rig.hub.engine.connect() as conn:
            behind = (
                await conn.execute(
                    select(t.product_id, t.version - t.sent_version).where(
                        t.channel == "ctrip", t.version > t.sent_version
                    )
                )
            ).all()
        assert dict(behind) == {"adult": 1, "realname": 1, "combo": 1}

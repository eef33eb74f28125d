"""A committed sale wakes the stock pusher at once (`OrderService`'s ``on_stock``),
instead of the push waiting for the pusher's next poll — part of the push lag that
``tickethub bench stocksync`` measures. Here the poll is a minute (`tests.support`), so
only the wake can drain the sale's mark within the bound."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import func, select

from hub.storage.stock_tables import StockDirtyRow
from tests.ctrip.kit import callback_rig
from tests.stockpush.kit import box_sale, push_all, stock_worker

BOUND_SECONDS = 20.0
"""Far under the 60 s poll, far over a tick on a loaded machine."""


async def _marks(rig: Any) -> int:
    async with rig.hub.engine.connect() as conn:
        n = await conn.execute(select(func.count()).select_from(StockDirtyRow))
        return int(n.scalar_one())


async def test_a_sale_wakes_the_pusher_at_its_commit(aiohttp_client: Any, db_url: str) -> None:
    async with callback_rig(aiohttp_client, db_url, async_services="") as rig:
        await push_all(rig, stock_worker(rig))  # the seed's stock; nothing is left
        assert rig.hub.settings.stock_push_seconds == 60
        await box_sale(rig.client, "wake-1")
        loop = asyncio.get_running_loop()
        end = loop.time() + BOUND_SECONDS
        left = await _marks(rig)
        while left and loop.time() < end:
            await asyncio.sleep(0.02)  # the background pusher drains the sale's mark
            left = await _marks(rig)
        assert left == 0, "the sale's stock mark waited for the pusher's poll"

"""Douyin only pulls stock: its "批量拉取价格库存" SPI is answered from live stock, so a
sale is visible at Douyin's next pull without any push."""

from __future__ import annotations

from typing import Any

from sandbox.ota.douyin_stock import DouyinStockPuller
from tests.douyin.kit import rig
from tests.stockpush.kit import box_sale
from tests.support import TOMORROW

DAY = TOMORROW.isoformat()


async def test_a_pull_only_douyin_is_answered_from_live_stock(
    aiohttp_client: Any, db_url: str
) -> None:
    async with rig(aiohttp_client, db_url) as r:
        puller = DouyinStockPuller(r.douyin(), ["adult", "combo"], TOMORROW, days=2)
        await puller.pull_once()
        assert puller.book.shows("adult", DAY) == 10
        await box_sale(r.client, "d1", quantity=4)
        await puller.pull_once()
        assert puller.book.shows("adult", DAY) == 6
        assert puller.book.shows("combo", DAY) == 6
        assert puller.failures == []
        bad = await r.douyin().call(
            "stock_calendar", {"product_out_id": "adult", "start_date": DAY, "end_date": "x"}
        )
        assert not bad.ok and "yyyy-MM-dd" in bad.description

"""Stock push to Meituan: a change notice per product, after which the sandbox Meituan
pulls the price calendar — answered from live stock, also for a Meituan that only pulls."""

from __future__ import annotations

from typing import Any

from tests.meituan.kit import rig
from tests.stockpush.kit import box_sale, push_all, stock_worker, until
from tests.support import TOMORROW

DAY = TOMORROW.isoformat()
NOTICE = "/rhone/mtp/api/level/price/notice/v2"


async def test_a_sale_lowers_the_stock_meituan_pulls(aiohttp_client: Any, db_url: str) -> None:
    async with rig(aiohttp_client, db_url) as r:
        r.receiver.puller = r.meituan()
        book = r.receiver.stock
        worker = stock_worker(r)
        await push_all(r, worker)
        await until(lambda: book.shows("adult", DAY) == 10)
        await box_sale(r.client, "m1", quantity=2)
        await push_all(r, worker)
        await until(lambda: book.shows("adult", DAY) == 8)
        await until(lambda: book.shows("combo", DAY) == 8)
        notices = [n for n in r.receiver.accepted if n.path == NOTICE]
        adult = [n.body for n in notices if n.body["partnerDealId"] == "adult"]
        assert adult[-1] == {"partnerDealId": "adult", "startTime": DAY, "endTime": DAY}
        assert r.receiver.refused == []


async def test_a_pull_only_meituan_is_answered_from_live_stock(
    aiohttp_client: Any, db_url: str
) -> None:
    async with rig(aiohttp_client, db_url, callbacks=False) as r:
        mt = r.meituan()
        window = {"partnerDealId": "adult", "startTime": DAY, "endTime": DAY}
        before = await mt.call("price/calendar", window)
        assert before.ok, before
        assert [row["stock"] for row in before.body["levelPriceCalendars"]] == [10]
        await box_sale(r.client, "p1", quantity=3)
        after = await mt.call("price/calendar", window)
        row = after.body["levelPriceCalendars"][0]
        assert row["stock"] == 7 and row["priceDate"] == DAY and row["mtPrice"] == 100.0
        bad = await mt.call("price/calendar", {**window, "startTime": "tomorrow"})
        assert not bad.ok and "yyyy-MM-dd" in bad.describe
        assert await r.hub.stock.run_once() == 0  # nothing pushed: no notice URL

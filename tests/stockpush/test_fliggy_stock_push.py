"""Stock push to Fliggy: ``alitrip.ticket.skus.upload`` through the TOP gateway, one price
rule per slot, the stock the sandbox Fliggy shows follows a sale."""

from __future__ import annotations

import json
from typing import Any

from sandbox.ota.fliggy_gateway import SKUS_UPLOAD
from tests.fliggy.kit import rig
from tests.stockpush.kit import box_sale, push_all, stock_worker
from tests.support import TOMORROW

DAY = TOMORROW.isoformat()


async def test_a_sale_lowers_the_stock_fliggy_shows(aiohttp_client: Any, db_url: str) -> None:
    async with rig(aiohttp_client, db_url) as r:
        worker = stock_worker(r)
        await push_all(r, worker)
        book = r.gateway.stock
        assert book.shows("adult", DAY) == 10
        await box_sale(r.client, "f1", quantity=2)
        await push_all(r, worker)
        assert book.shows("adult", DAY) == 8 and book.shows("combo", DAY) == 8
        last = [c for c in r.gateway.of(SKUS_UPLOAD) if c.params["out_product_id"] == "adult"][-1]
        rules = json.loads(last.params["price_rules"])
        assert rules[0]["upload_type"] == 2 and rules[0]["ticket_season"] == "ALL_DAY"
        assert rules[0]["date_inventorys"][0] == {"date": DAY, "stock": 8, "price": 10000}
        assert book.refused == []


async def test_a_hub_without_top_pushes_nothing(aiohttp_client: Any, db_url: str) -> None:
    async with rig(aiohttp_client, db_url, callbacks=False) as r:
        await box_sale(r.client, "f2")
        assert await r.hub.stock.run_once() == 0

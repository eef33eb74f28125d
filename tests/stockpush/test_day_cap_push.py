"""The whole-day cap reaches the OTAs: setting it, and a sale of ANOTHER product of the
venue (which moves the cap but not this product's pool), lower the stock Ctrip shows."""

from __future__ import annotations

from typing import Any

from tests.ctrip.kit import callback_rig
from tests.stockpush.kit import box_sale, push_all, stock_worker
from tests.support import TOMORROW, put

DAY = TOMORROW.isoformat()


async def test_the_day_cap_lowers_what_ctrip_shows(aiohttp_client: Any, db_url: str) -> None:
    async with callback_rig(aiohttp_client, db_url, async_services="") as rig:
        worker = stock_worker(rig)
        await push_all(rig, worker)
        book = rig.receiver.stock
        assert book.shows("adult", DAY) == 10
        await put(
            rig.client,
            "/api/admin/venues/v1/day-cap",
            {"date_from": DAY, "date_to": DAY, "capacity": 6},
        )
        await push_all(rig, worker)
        assert book.shows("adult", DAY) == 6
        await box_sale(rig.client, "cable-1", quantity=2, product="cable")
        await push_all(rig, worker)
        assert book.shows("adult", DAY) == 4  # its pool has 10; the day has 4 left
        assert book.refused == []

"""Emergency sales count against the whole-day cap (总量控制) when they reach the hub, on
SQLite and PostgreSQL: once (a replay counts nothing), in the order's allocations, in
the day report as channel ``emergency``, in the stock the OTAs are shown — and past a
cap that is already full (the tickets were sold offline from stock set aside in
advance), flagged, without the allotment's units being counted a second time."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from hub.inventory import daycap
from hub.storage.tables import AllocationRow, OrderRow
from tests.bridge.conftest import TOKEN
from tests.bridge.emergency_kit import (
    DAY,
    TZ,
    allot,
    bridge_key,
    cells,
    day_caps,
    set_day_cap,
    signed_order,
    upload,
)
from tests.ctrip.kit import callback_rig
from tests.stockpush.kit import push_all, stock_worker
from tests.support import ADMIN, T0, hub_client, hub_of, seed


async def test_an_emergency_order_counts_against_the_day_cap_once(
    aiohttp_client: Any, db_url: str
) -> None:
    hub = await hub_client(aiohttp_client, db_url, bridge_tokens={"v1": TOKEN})
    await seed(hub)
    private, key_id = await bridge_key(hub)
    assert (await allot(hub, "b1", 5)).status == 200
    await _set_cap(hub, 100)
    await _set_cap(hub, 50, product_id="adult")
    order = signed_order("b1-0001", private, key_id, quantity=3)

    first = await upload(hub, "b1", order)
    again = await upload(hub, "b1", order)  # the bridge lost the answer and re-sends

    assert first[0]["status"] == "created" and first[0]["over_day_cap"] is False
    assert again[0]["status"] == "duplicate"
    caps = await day_caps(hub)
    assert caps[daycap.venue_cap_pool("v1")]["sold"] == 3
    assert caps[daycap.product_cap_pool("adult")]["sold"] == 3
    slot = await cells(hub)
    assert (slot["emergency:b1"]["sold"], slot[""]["sold"]) == (3, 0)  # the allotment's
    async with hub_of(hub).engine.connect() as conn:
        allocated = (
            await conn.execute(
                select(func.count())
                .select_from(AllocationRow)
                .join(OrderRow, OrderRow.id == AllocationRow.order_id)
                .where(OrderRow.channel == "emergency")
            )
        ).scalar_one()
    assert allocated == 3  # the slot's cell and both caps: a refund gives each back
    sold_on = T0.astimezone(TZ).date().isoformat()  # the day of the bridge's sale
    resp = await hub.get(
        "/api/admin/reports/daily", params={"date": sold_on, "venue": "v1"}, headers=ADMIN
    )
    report = await resp.json()
    assert resp.status == 200, report
    emergency = [r for r in report["rows"] if r["channel"] == "emergency"]
    assert [(r["orders"], r["tickets_sold"]) for r in emergency] == [(1, 3)], report


async def test_a_full_cap_accepts_the_emergency_order_and_flags_it(
    aiohttp_client: Any, db_url: str
) -> None:
    """The cap is set AFTER the grant, so it reserved nothing for the bridge (one of the
    odd cases `hub.emergency.capreserve` lists): the order is still accepted, flagged."""
    hub = await hub_client(aiohttp_client, db_url, bridge_tokens={"v1": TOKEN})
    await seed(hub)
    private, key_id = await bridge_key(hub)
    assert (await allot(hub, "b1", 5)).status == 200
    await _set_cap(hub, 2)

    answer = await upload(hub, "b1", signed_order("b1-0002", private, key_id, quantity=3))

    assert answer[0]["status"] == "created" and answer[0]["over_day_cap"] is True
    cap = (await day_caps(hub))[daycap.venue_cap_pool("v1")]
    assert (cap["sold"], cap["available"]) == (3, 0)
    slot = await cells(hub)
    assert (slot["emergency:b1"]["sold"], slot[""]["sold"]) == (3, 0)  # not counted twice
    async with hub_of(hub).engine.connect() as conn:
        note = (
            await conn.execute(select(OrderRow.extra).where(OrderRow.partner_order_id == "b1-0002"))
        ).scalar_one()
    assert note["emergency"]["over_day_cap"] is True


async def test_the_otas_stock_follows_an_emergency_order_through_the_cap(
    aiohttp_client: Any, db_url: str
) -> None:
    async with callback_rig(
        aiohttp_client, db_url, async_services="", bridge_tokens={"v1": TOKEN}
    ) as rig:
        worker = stock_worker(rig)
        private, key_id = await bridge_key(rig.client)
        assert (await allot(rig.client, "b1", 2, slot="")).status == 200
        await _set_cap(rig.client, 6)
        await push_all(rig, worker)
        book = rig.receiver.stock
        assert book.shows("adult", DAY.isoformat()) == 6  # 8 common units, 6 left that day

        order = signed_order("b1-0003", private, key_id, quantity=2, slot="")
        assert (await upload(rig.client, "b1", order))[0]["status"] == "created"
        await push_all(rig, worker)

        assert book.shows("adult", DAY.isoformat()) == 4  # the cap moved; the pool did not
        assert book.refused == []


async def _set_cap(client: Any, capacity: int, product_id: str | None = None) -> None:
    resp = await set_day_cap(client, capacity, product_id)
    assert resp.status == 200 and await resp.json() == {"days": 1}, await resp.text()

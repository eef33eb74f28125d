"""The whole-day cap (总量控制, `hub.inventory.daycap`): one more guarded cell in the
order's batch, counted across slots, channels and products, never oversold under
concurrent orders, given back on cancel and refund, counting paper tickets (accepted over
it and flagged) — on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

from hub.domain import OrderLine, OrderRequest
from hub.inventory import daycap
from hub.inventory.ledger import BatchLedger
from tests.reconcile.test_paper_sales import sheet
from tests.support import ADMIN, TOMORROW, hub_client, hub_of, order, put, seed

SLOTS = ("09:00-11:00", "13:00-15:00")


async def set_cap(client: Any, capacity: int, product_id: str | None = None) -> None:
    body: dict[str, Any] = {
        "date_from": TOMORROW.isoformat(),
        "date_to": TOMORROW.isoformat(),
        "capacity": capacity,
    }
    if product_id:
        body["product_id"] = product_id
    assert await put(client, "/api/admin/venues/v1/day-cap", body) == {"days": 1}


async def caps(client: Any) -> dict[str, dict[str, int]]:
    resp = await client.get(f"/api/admin/venues/v1/day-cap?date={TOMORROW}", headers=ADMIN)
    assert resp.status == 200
    return {c["pool"]: c for c in (await resp.json())["caps"]}


def request(i: int, channel: str, slot: str, product: str, quantity: int) -> OrderRequest:
    return OrderRequest(
        channel=channel,
        partner_order_id=f"cap-{i}",
        lines=(OrderLine(product_id=product, quantity=quantity),),
        travel_date=TOMORROW,
        slot=slot,
        confirm=i % 2 == 0,
    )


async def test_concurrent_orders_across_slots_and_channels_never_pass_the_cap(
    aiohttp_client: Any, db_url: str
) -> None:
    """80 orders at once over two slots, three channels and two products (one a combo),
    the slots holding 4 × 10 units: the venue's cap of 15 visitors is the binding limit
    and is met exactly (a cap refuses a one-visitor order only when nothing is left)."""
    client = await hub_client(aiohttp_client, db_url)
    await seed(client, capacity=10)
    await set_cap(client, 15)
    hub = hub_of(client)
    channels = ("boxoffice", "wechat", "ctrip")
    reqs = [
        request(i, channels[i % 3], SLOTS[i % 2], "combo" if i % 5 == 0 else "adult", 1 + i % 2)
        for i in range(80)
    ]
    results = await asyncio.gather(*(hub.orders.place(r) for r in reqs))
    accepted = sum(r.quantity for req, res in zip(reqs, results, strict=True) if res.ok
                   for r in req.lines)  # fmt: skip
    refused = [res.body for res in results if not res.ok]
    assert refused and {b["code"] for b in refused} == {"SOLD_OUT"}, refused[:3]
    assert any(b["details"].get("day_cap") for b in refused)
    cap = (await caps(client))[daycap.venue_cap_pool("v1")]
    assert cap["held"] + cap["sold"] == accepted == 15
    assert cap["available"] == 0
    # the day's inventory view shows the cap beside the slots
    view = await client.get(f"/api/admin/inventory?pool=main&date={TOMORROW}", headers=ADMIN)
    assert [c["available"] for c in (await view.json())["day_caps"]] == [0]


async def test_the_control_without_the_lock_oversells_the_cap(db_url: str) -> None:
    """The ledger's guard is what holds the cap: two batches that read the same counts
    without it (``unsafe``) both take the last place — the race the test above would see."""
    from hub.storage.db import create_all, create_engine

    engine = create_engine(db_url)
    try:
        await create_all(engine)
        async with engine.begin() as conn:
            await daycap.set_day_cap(conn, "v1", [TOMORROW], 1)
        pool = daycap.venue_cap_pool("v1")
        need = daycap.cap_needs("v1", [("adult", 1)])
        a, b = BatchLedger(unsafe=True), BatchLedger(unsafe=True)
        async with engine.connect() as ca:
            await a.load(ca, [(pool, TOMORROW, "")])
        async with engine.connect() as cb:
            await b.load(cb, [(pool, TOMORROW, "")])
        for ledger in (a, b):
            assert ledger.take((), day=TOMORROW, slot="", buckets=[""], sell=True, caps=need)
            async with engine.begin() as conn:
                await ledger.flush(conn)
        # and the guarded ledger refuses the second reader's write
        safe = BatchLedger()
        async with engine.begin() as conn:
            await safe.load(conn, [(pool, TOMORROW, "")])
            assert safe.take((), day=TOMORROW, slot="", buckets=[""], sell=True, caps=need) is None
            assert safe.capped
    finally:
        await engine.dispose()


async def test_cancel_and_refund_give_the_cap_back_and_availability_shows_it(
    aiohttp_client: Any, db_url: str
) -> None:
    client = await hub_client(aiohttp_client, db_url)
    await seed(client, capacity=10)
    status, first = await order(client, "before-cap", quantity=2, confirm=True)
    assert status == 201
    await set_cap(client, 3)
    await set_cap(client, 2, product_id="cable")
    venue = daycap.venue_cap_pool("v1")
    assert (await caps(client))[venue]["sold"] == 2  # the day's orders counted at once
    hub = hub_of(client)
    avail = await hub.orders.availability("adult", TOMORROW, "boxoffice")
    assert {s["available"] for s in avail["slots"]} == {1}  # the day, not the slot's 8-10
    status, body = await order(client, "two", quantity=2, slot=SLOTS[1], confirm=True)
    assert (status, body["code"], body["details"]) == (
        409, "SOLD_OUT", {"available": 1, "day_cap": True}
    )  # fmt: skip
    status, body = await order(client, "one", slot=SLOTS[1], confirm=True)
    assert status == 201
    refund = await hub.orders.refund(first["order"]["id"], None)
    assert refund.ok, refund.body
    assert (await caps(client))[venue]["sold"] == 1  # the cap's allocation came back
    status, held = await order(client, "held", quantity=2, product="combo")
    assert status == 201
    cancel = await hub.orders.cancel(held["order"]["id"])
    assert cancel.ok, cancel.body
    assert (await caps(client))[venue]["held"] == 0
    lowered = await client.put(
        "/api/admin/venues/v1/day-cap",
        json={"date_from": str(TOMORROW), "date_to": str(TOMORROW), "capacity": 0},
        headers=ADMIN,
    )
    assert lowered.status == 422 and (await lowered.json())["code"] == "CAPACITY_BELOW_SOLD"


async def test_paper_tickets_count_against_the_cap_over_it_flagged(
    aiohttp_client: Any, db_url: str
) -> None:
    client = await hub_client(aiohttp_client, db_url)
    await seed(client, capacity=10)
    await set_cap(client, 2)
    assert (await order(client, "online", confirm=True))[0] == 201
    resp = await client.post(
        "/api/admin/backfill",
        json=sheet({"paper_no": "P-7001"}, {"paper_no": "P-7002", "slot": SLOTS[1]}),
        headers=ADMIN,
    )
    body = await resp.json()
    assert resp.status == 200, body
    assert body["over_capacity"] == ["P-7002"]  # the slot had room; the day had not
    cap = (await caps(client))[daycap.venue_cap_pool("v1")]
    assert (cap["sold"], cap["available"]) == (3, 0)
    status, denied = await order(client, "after-paper", slot=SLOTS[1])
    assert (status, denied["details"].get("day_cap")) == (409, True)

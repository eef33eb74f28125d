"""An emergency allotment sets its units aside in the whole-day cap when it is granted
(`hub.emergency.capreserve`), on SQLite and PostgreSQL: the online channels cannot sell
them while the bridge is cut off, the bridge's orders turn them from reserved into sold
(counted once, a replay adds nothing), a refund puts them back in the reservation, the
give-back at the slot's end releases the rest, a grant the cap has no room for is
refused, and the OTAs are shown the cap without the reserved units."""

from __future__ import annotations

from typing import Any

from hub.domain.credentials import generate_keypair
from hub.inventory import daycap
from tests.bridge.conftest import TOKEN
from tests.bridge.emergency_kit import (
    DAY,
    allot,
    bridge_clock,
    bridge_key,
    cells,
    certify_key,
    day_caps,
    set_day_cap,
    signed_order,
    upload,
)
from tests.ctrip.kit import callback_rig
from tests.stockpush.kit import push_all, stock_worker
from tests.support import ADMIN, hub_client, hub_of, order, put, seed

VENUE_CAP = daycap.venue_cap_pool("v1")






async def _figures(client: Any) -> tuple[int, int, int, int]:
    """The venue cap's (capacity, sold, reserved, available)."""
    c = (await day_caps(client))[VENUE_CAP]
    return c["capacity"], c["sold"], c["reserved"], c["available"]




async def _online(client: Any, n: int, prefix: str) -> int:
    """Sell ``n`` one-visitor box-office orders in the other slot; how many went through."""
    ok = 0
    for i in range(n):
        status, body = await order(client, f"{prefix}-{i}", confirm=True)
        if status == 201:
            ok += 1
        else:
            assert body["code"] == "SOLD_OUT" and body["details"]["day_cap"], body
    return ok


async def test_the_grant_reserves_the_cap_and_the_orders_convert_it(
    aiohttp_client: Any, db_url: str
) -> None:
    hub = await hub_client(aiohttp_client, db_url, bridge_tokens={"v1": TOKEN})
    await seed(hub)
    private, key_id = await bridge_key(hub)
    assert (await set_day_cap(hub, 8)).status == 200

    assert (await allot(hub, "b1", 5)).status == 200
    assert await _figures(hub) == (8, 0, 5, 3)  # set aside, not sold, not on sale

    # The bridge is cut off; the online channels sell what the cap has left, no more.
    assert await _online(hub, 5, "online") == 3
    assert await _figures(hub) == (8, 3, 5, 0)

    sale = signed_order("b1-0001", private, key_id, quantity=2)
    first = await upload(hub, "b1", sale)
    assert first[0]["status"] == "created" and first[0]["over_day_cap"] is False
    assert await _figures(hub) == (8, 5, 3, 0)  # reserved → sold: 3 + 2, not 3 + 2 + 2

    again = await upload(hub, "b1", sale)  # the bridge lost the answer and re-sends
    assert again[0]["status"] == "duplicate"
    assert await _figures(hub) == (8, 5, 3, 0)

    hub_of(hub).clock.set(bridge_clock(5.5).now())  # 15:30: the allotment's slot ended
    resp = await hub.post("/api/admin/emergency/give-back", json={"staff": "zhang"}, headers=ADMIN)
    assert (await resp.json())["units"] == 3
    assert await _figures(hub) == (8, 5, 0, 3)  # the unsold 3 are on sale again
    slot = await cells(hub)
    assert (slot["emergency:b1"]["capacity"], slot["emergency:b1"]["sold"]) == (2, 2)


async def test_a_refund_puts_the_units_back_and_the_give_back_releases_them(
    aiohttp_client: Any, db_url: str
) -> None:
    hub = await hub_client(aiohttp_client, db_url, bridge_tokens={"v1": TOKEN})
    await seed(hub)
    private, key_id = await bridge_key(hub)
    assert (await set_day_cap(hub, 10)).status == 200
    assert (await allot(hub, "b1", 4)).status == 200
    created = await upload(hub, "b1", signed_order("b1-0002", private, key_id, quantity=3))
    assert await _figures(hub) == (10, 3, 1, 6)

    refund = await hub_of(hub).orders.refund(created[0]["order_id"], None)
    assert refund.ok, refund.body

    # Like the slot's units, which go back to the bridge's allotment.
    assert await _figures(hub) == (10, 0, 4, 6)
    assert (await cells(hub))["emergency:b1"]["sold"] == 0
    hub_of(hub).clock.set(bridge_clock(5.5).now())
    resp = await hub.post("/api/admin/emergency/give-back", json={"staff": "zhang"}, headers=ADMIN)
    assert (await resp.json())["units"] == 4
    assert await _figures(hub) == (10, 0, 0, 10)


async def test_a_grant_past_the_cap_is_refused_and_lowering_releases(
    aiohttp_client: Any, db_url: str
) -> None:
    hub = await hub_client(aiohttp_client, db_url, bridge_tokens={"v1": TOKEN})
    await seed(hub)
    assert (await set_day_cap(hub, 6)).status == 200
    assert await _online(hub, 2, "early") == 2

    resp = await allot(hub, "b1", 5)  # 4 left that day
    body = await resp.json()
    assert resp.status == 422 and body["code"] == "NOT_ENOUGH_DAY_CAP", body
    assert "4 visitors left" in body["message"], body
    assert body["details"]["errors"][0]["field"] == "quantity", body
    assert "emergency:b1" not in await cells(hub)  # the slot's share rolled back with it
    assert await _figures(hub) == (6, 2, 0, 4)

    assert (await allot(hub, "b1", 4)).status == 200
    assert await _figures(hub) == (6, 2, 4, 0)
    assert (await allot(hub, "b1", 1)).status == 200  # lowered: 3 on sale again
    assert await _figures(hub) == (6, 2, 1, 3)

    # Staff editing the cap keep the reservation; below it they are told why.
    resp = await set_day_cap(hub, 2)
    body = await resp.json()
    assert resp.status == 422 and body["code"] == "CAPACITY_BELOW_ALLOTMENTS", body
    assert (await set_day_cap(hub, 7)).status == 200
    assert await _figures(hub) == (7, 2, 1, 4)


async def test_the_product_cap_is_reserved_when_one_product_uses_the_pool(
    aiohttp_client: Any, db_url: str
) -> None:
    hub = await hub_client(aiohttp_client, db_url, bridge_tokens={"v1": TOKEN})
    await seed(hub)
    assert (await set_day_cap(hub, 50, product_id="cable")).status == 200
    resp = await hub.put(
        "/api/admin/emergency/allotments",
        json={
            "venue_id": "v1",
            "bridge_id": "b1",
            "pool": "cable",
            "date": DAY.isoformat(),
            "slot": "13:00-15:00",
            "quantity": 4,
        },
        headers=ADMIN,
    )
    assert resp.status == 200, await resp.text()
    cap = (await day_caps(hub))[daycap.product_cap_pool("cable")]
    assert (cap["capacity"], cap["reserved"], cap["available"]) == (50, 4, 46)


async def test_the_otas_are_shown_the_cap_without_the_reserved_units(
    aiohttp_client: Any, db_url: str
) -> None:
    async with callback_rig(
        aiohttp_client, db_url, async_services="", bridge_tokens={"v1": TOKEN}
    ) as rig:
        worker = stock_worker(rig)
        private, public = generate_keypair()
        resp = await certify_key(rig.client, "b1", public)
        key_id = int((await resp.json())["key_id"])
        assert (await set_day_cap(rig.client, 6)).status == 200
        await push_all(rig, worker)
        book = rig.receiver.stock
        assert book.shows("adult", DAY.isoformat()) == 6

        assert (await allot(rig.client, "b1", 2, slot="")).status == 200
        await push_all(rig, worker)
        assert book.shows("adult", DAY.isoformat()) == 4  # 2 set aside for the bridge

        order_ = signed_order("b1-0003", private, key_id, quantity=2, slot="")
        assert (await upload(rig.client, "b1", order_))[0]["status"] == "created"
        await push_all(rig, worker)
        assert book.shows("adult", DAY.isoformat()) == 4  # converted, not counted again
        assert book.refused == []


async def test_setting_the_cap_again_keeps_the_reservation_inside_it(
    aiohttp_client: Any, db_url: str
) -> None:
    """The cap staff set is the whole day's: the reservation is part of it, not added."""
    hub = await hub_client(aiohttp_client, db_url, bridge_tokens={"v1": TOKEN})
    await seed(hub)
    body = {"date_from": DAY.isoformat(), "date_to": DAY.isoformat(), "capacity": 9}
    assert await put(hub, "/api/admin/venues/v1/day-cap", body) == {"days": 1}
    assert (await allot(hub, "b1", 3)).status == 200
    assert await put(hub, "/api/admin/venues/v1/day-cap", body) == {"days": 1}
    assert await _figures(hub) == (9, 0, 3, 6)

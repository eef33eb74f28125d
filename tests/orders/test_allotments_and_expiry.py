"""Channel allotments, holds that expire by themselves, and admin capacity guards."""

from __future__ import annotations

import asyncio
from typing import Any

from hub.clock import FixedClock
from hub.domain import OrderLine, OrderRequest
from tests.support import ADMIN, BOX, T0, TOMORROW, hub_client, hub_of, order, seed


async def ota_order(client: Any, key: str, quantity: int) -> tuple[int, str | None]:
    outcome = await hub_of(client).orders.place(
        OrderRequest(
            channel="ota",
            partner_order_id=key,
            travel_date=TOMORROW,
            slot="09:00-11:00",
            lines=(OrderLine(product_id="adult", quantity=quantity),),
            confirm=True,
        )
    )
    return outcome.status, outcome.code


async def allot(client: Any, quantity: int, fallback: bool) -> int:
    resp = await client.put(
        "/api/admin/allotments",
        headers=ADMIN,
        json={
            "pool": "main",
            "date_from": TOMORROW.isoformat(),
            "date_to": TOMORROW.isoformat(),
            "slot": "09:00-11:00",
            "channel": "ota",
            "quantity": quantity,
            "fallback": fallback,
        },
    )
    return resp.status


async def buckets(client: Any) -> dict[str, dict[str, int]]:
    resp = await client.get(f"/api/admin/inventory?pool=main&date={TOMORROW}", headers=ADMIN)
    return {c["bucket"]: c for c in (await resp.json())["cells"] if c["slot"] == "09:00-11:00"}


async def test_allotment_is_reserved_for_its_channel(aiohttp_client: Any, db_url: str) -> None:
    client = await hub_client(aiohttp_client, db_url)
    await seed(client, capacity=10)
    assert await allot(client, 4, fallback=False) == 200
    cells = await buckets(client)
    assert (cells[""]["capacity"], cells["ota"]["capacity"]) == (6, 4)
    # The box office cannot reach the OTA's four places...
    assert (await order(client, "b1", quantity=6, confirm=True))[0] == 201
    assert (await order(client, "b2", quantity=1, confirm=True))[1]["code"] == "SOLD_OUT"
    # ...and the OTA without fallback cannot go past its own four.
    assert await ota_order(client, "o1", 4) == (201, None)
    assert await ota_order(client, "o2", 1) == (409, "SOLD_OUT")


async def test_allotment_falls_back_to_the_common_pool(aiohttp_client: Any, db_url: str) -> None:
    client = await hub_client(aiohttp_client, db_url)
    await seed(client, capacity=10)
    assert await allot(client, 2, fallback=True) == 200
    assert await ota_order(client, "o1", 2) == (201, None)
    assert await ota_order(client, "o2", 3) == (201, None)  # from the common pool
    cells = await buckets(client)
    assert (cells["ota"]["sold"], cells[""]["sold"]) == (2, 3)
    availability = await (
        await client.get(
            f"/api/boxoffice/availability?product_id=adult&date={TOMORROW}", headers=BOX
        )
    ).json()
    slot = next(s for s in availability["slots"] if s["code"] == "09:00-11:00")
    assert slot["available"] == 5


async def test_capacity_cannot_drop_below_what_is_taken(aiohttp_client: Any, db_url: str) -> None:
    client = await hub_client(aiohttp_client, db_url)
    await seed(client, capacity=10)
    assert (await order(client, "b1", quantity=7, confirm=True))[0] == 201
    body = {
        "pool": "main",
        "date_from": TOMORROW.isoformat(),
        "date_to": TOMORROW.isoformat(),
        "slots": [{"code": "09:00-11:00", "capacity": 5}],
    }
    resp = await client.put("/api/admin/inventory", json=body, headers=ADMIN)
    assert (resp.status, (await resp.json())["code"]) == (422, "CAPACITY_BELOW_SOLD")
    assert await allot(client, 4, fallback=True) == 422  # only 3 free
    assert (await buckets(client))[""]["capacity"] == 10


async def test_holds_expire_by_themselves(aiohttp_client: Any, db_url: str) -> None:
    clock = FixedClock(T0)
    client = await hub_client(
        aiohttp_client, db_url, clock=clock, hold_ttl_seconds=30, expiry_sweep_seconds=0.05
    )
    await seed(client, capacity=3)
    _, body = await order(client, "h", quantity=3)
    assert body["order"]["state"] == "held"
    clock.advance(seconds=31)
    for _ in range(200):  # the sweeper runs every 50 ms; give it up to 10 s on a busy box
        got = await hub_of(client).orders.get(body["order"]["id"])
        if got is not None and got.state.value == "expired":
            break
        await asyncio.sleep(0.05)
    assert got is not None and got.state.value == "expired"
    assert (await buckets(client))[""]["held"] == 0


async def test_rule_documents_are_validated_with_a_path(
    aiohttp_client: Any, sqlite_url: str
) -> None:
    client = await hub_client(aiohttp_client, sqlite_url)
    await seed(client)
    bad = {"sale": [{"check": "quantity", "max": 3}, {"check": "per_id_daily_limit", "limit": "x"}]}
    resp = await client.put("/api/admin/products/adult/rules", json=bad, headers=ADMIN)
    body = await resp.json()
    assert (resp.status, body["code"]) == (422, "INVALID_RULES")
    assert body["details"]["path"].startswith("sale[1]")
    good = {"sale": [{"check": "quantity", "max": 3}]}
    resp = await client.put("/api/admin/products/adult/rules", json=good, headers=ADMIN)
    assert resp.status == 200
    assert await (await client.get("/api/admin/products/adult/rules", headers=ADMIN)).json() == good
    status, body = await order(client, "four", quantity=4)
    assert (status, body["code"]) == (422, "QUANTITY_TOO_LARGE")

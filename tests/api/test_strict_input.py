"""Admin and box-office bodies are read strictly: a JSON type other than the schema's is
refused, not coerced (``"1"`` is not 1, ``false`` is not 0), unknown fields are refused
at any depth, and an allotment must name a pool that exists. Each refusal is a 422 in
the hub's error shape whose ``details.errors`` names the field, and nothing is written."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from hub.storage.tables import InventoryRow, OrderRow
from tests.support import ADMIN, BOX, TOMORROW, hub_client, hub_of, order_body, seed

DAY = TOMORROW.isoformat()


async def _count(client: Any, table: Any) -> int:
    async with hub_of(client).engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


def _refused(status: int, body: dict[str, Any], field: str) -> None:
    assert (status, body["code"]) == (422, "INVALID_REQUEST"), body
    assert field in [e["field"] for e in body["details"]["errors"]], body
    assert body["message"].startswith(field), body


async def test_box_office_quantity_must_be_a_json_integer(
    aiohttp_client: Any, sqlite_url: str
) -> None:
    client = await hub_client(aiohttp_client, sqlite_url)
    await seed(client)
    for bad, field in (
        ({"lines": [{"product_id": "adult", "quantity": "1"}]}, "lines.0.quantity"),
        ({"lines": [{"product_id": "adult", "quantity": 1.0}]}, "lines.0.quantity"),
        ({"lines": [{"product_id": "adult", "quantity": True}]}, "lines.0.quantity"),
        ({"lines": [{"product_id": "adult", "quantity": 1, "qty": 2}]}, "lines.0.qty"),
        ({"confirm": "true"}, "confirm"),
        ({"amount": "10000"}, "amount"),
        ({"visitors": [{"name": "Zhang San", "phone": 13800138000}]}, "visitors.0.phone"),
    ):
        resp = await client.post("/api/boxoffice/orders", json=order_body(**bad), headers=BOX)
        _refused(resp.status, await resp.json(), field)
    assert await _count(client, OrderRow) == 0
    resp = await client.post("/api/boxoffice/orders", json=order_body(), headers=BOX)
    assert resp.status == 201, await resp.text()


async def test_inventory_capacity_false_is_not_zero(aiohttp_client: Any, sqlite_url: str) -> None:
    client = await hub_client(aiohttp_client, sqlite_url)
    await seed(client, capacity=10)
    url = f"/api/admin/inventory?pool=main&date={DAY}"
    before = (await (await client.get(url, headers=ADMIN)).json())["cells"]
    for slot, field in (
        ({"code": "09:00-11:00", "capacity": False}, "slots.0.capacity"),
        ({"code": "09:00-11:00", "capacity": "5"}, "slots.0.capacity"),
        ({"code": "09:00-11:00", "capacity": 5, "extra": 1}, "slots.0.extra"),
    ):
        body = {"pool": "main", "date_from": DAY, "date_to": DAY, "slots": [slot]}
        resp = await client.put("/api/admin/inventory", json=body, headers=ADMIN)
        _refused(resp.status, await resp.json(), field)
    assert (await (await client.get(url, headers=ADMIN)).json())["cells"] == before
    assert before and all(c["capacity"] == 10 for c in before)


async def test_product_fields_are_strict_too(aiohttp_client: Any, sqlite_url: str) -> None:
    client = await hub_client(aiohttp_client, sqlite_url)
    await seed(client)
    doc = {"venue_id": "v1", "name": "Adult", "pool": "main", "prices": [{"amount": 10000}]}
    for bad, field in (
        ({"prices": [{"amount": "9000"}]}, "prices.0.amount"),
        ({"active": 0}, "active"),
        ({"pirces": []}, "pirces"),
    ):
        resp = await client.put("/api/admin/products/adult", json={**doc, **bad}, headers=ADMIN)
        _refused(resp.status, await resp.json(), field)
    resp = await client.get("/api/admin/products", headers=ADMIN)
    adult = next(p for p in (await resp.json())["products"] if p["id"] == "adult")
    assert adult["prices"][0]["amount"] == 10000 and adult["active"] is True


async def test_an_allotment_for_an_unknown_pool_is_refused(
    aiohttp_client: Any, sqlite_url: str
) -> None:
    client = await hub_client(aiohttp_client, sqlite_url)
    await seed(client)
    cells = await _count(client, InventoryRow)
    allot = {"date_from": DAY, "date_to": DAY, "channel": "ctrip", "quantity": 2}
    for extra in ({}, {"slot": "09:00-11:00"}):
        body = {**allot, "pool": "mian", **extra}  # a typo of "main"
        resp = await client.put("/api/admin/allotments", json=body, headers=ADMIN)
        out = await resp.json()
        assert (resp.status, out["code"]) == (422, "UNKNOWN_POOL"), out
        assert out["details"]["errors"][0]["field"] == "pool" and "mian" in out["message"]
    # a known pool but a range with no capacity set: refused too, not "0 cells"
    body = {**allot, "pool": "main", "date_from": "2027-03-01", "date_to": "2027-03-02"}
    resp = await client.put("/api/admin/allotments", json=body, headers=ADMIN)
    assert (resp.status, (await resp.json())["code"]) == (422, "SLOT_NOT_USABLE")
    assert await _count(client, InventoryRow) == cells
    resp = await client.put("/api/admin/allotments", json={**allot, "pool": "main"}, headers=ADMIN)
    assert (resp.status, await resp.json()) == (200, {"cells": 2})

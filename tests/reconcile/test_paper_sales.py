"""Paper tickets are sales: product, slot and price per ticket, stock taken (accepted over
capacity and flagged for staff), all or nothing for a sheet with a mistake."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from hub.orders.records import ORD
from hub.storage.tables import InventoryRow
from tests.support import ADMIN, TOMORROW, hub_client, hub_of, order, seed

INV = InventoryRow.__table__.c


def sheet(*tickets: dict[str, Any], slot: str = "09:00-11:00") -> dict[str, Any]:
    return {
        "venue_id": "v1",
        "product_id": "adult",
        "travel_date": TOMORROW.isoformat(),
        "slot": slot,
        "staff": "li.na",
        "note": "power cut",
        "tickets": list(tickets),
    }


async def sold(client: Any, pool: str, slot: str) -> tuple[int, int]:
    async with hub_of(client).engine.connect() as conn:
        row = (
            await conn.execute(
                select(INV.sold, INV.capacity).where(
                    INV.pool == pool, INV.day == TOMORROW, INV.slot == slot, INV.bucket == ""
                )
            )
        ).one()
    return int(row.sold), int(row.capacity)


async def test_paper_takes_stock_and_is_flagged_over_capacity(
    aiohttp_client: Any, db_url: str
) -> None:
    client = await hub_client(aiohttp_client, db_url)
    await seed(client, capacity=3)
    status, _ = await order(client, "online-1", confirm=True, quantity=2)
    assert status == 201
    resp = await client.post(
        "/api/admin/backfill",
        json=sheet(
            {"paper_no": "P-1001"},
            {"paper_no": "P-1002", "price": 8000},
            {"paper_no": "P-1003", "product_id": "combo", "slot": "13:00-15:00"},
        ),
        headers=ADMIN,
    )
    body = await resp.json()
    assert resp.status == 200, body
    assert body["created"] == ["P-1001", "P-1002", "P-1003"]
    assert body["over_capacity"] == ["P-1002"]  # 2 online + 2 paper in a slot of 3
    assert await sold(client, "main", "09:00-11:00") == (4, 3)
    assert await sold(client, "main", "13:00-15:00") == (1, 3)  # the combo's parts
    assert await sold(client, "cable", "13:00-15:00") == (1, 3)
    # online sale of the full slot is refused now: the paper took what was left
    status, denied = await order(client, "online-2", quantity=1)
    assert status != 201 and denied["code"] == "SOLD_OUT", denied
    async with hub_of(client).engine.connect() as conn:
        rows = (
            await conn.execute(
                select(ORD.c.partner_order_id, ORD.c.slot, ORD.c.amount, ORD.c.extra)
                .where(ORD.c.channel == "paper")
                .order_by(ORD.c.partner_order_id)
            )
        ).all()
    assert [(r.partner_order_id, r.slot, r.amount) for r in rows] == [
        ("P-1001", "09:00-11:00", 10000),
        ("P-1002", "09:00-11:00", 8000),
        ("P-1003", "13:00-15:00", 14000),
    ]
    assert [bool(r.extra["backfill"].get("over_capacity")) for r in rows] == [False, True, False]
    # entering the sheet again takes nothing twice
    again = await client.post(
        "/api/admin/backfill", json=sheet({"paper_no": "P-1001"}), headers=ADMIN
    )
    assert (await again.json())["created"] == []
    assert await sold(client, "main", "09:00-11:00") == (4, 3)


async def test_a_sheet_with_a_mistake_enters_nothing(aiohttp_client: Any, db_url: str) -> None:
    client = await hub_client(aiohttp_client, db_url)
    await seed(client)
    resp = await client.post(
        "/api/admin/backfill",
        json=sheet({"paper_no": "P-2001"}, {"paper_no": "P-2002", "slot": "17:00-18:00"}),
        headers=ADMIN,
    )
    body = await resp.json()
    assert resp.status == 400 and "ticket 2 (P-2002)" in body["message"], body
    assert "17:00-18:00" in body["message"]
    assert await sold(client, "main", "09:00-11:00") == (0, 10)
    async with hub_of(client).engine.connect() as conn:
        paper = (await conn.execute(select(ORD.c.id).where(ORD.c.channel == "paper"))).all()
    assert paper == []

"""Staff admissions without a ticket, as bridges upload them (kind ``manual``), on SQLite
and PostgreSQL: recorded once, counted in the flow (in-park) and the gate's passages,
no ticket touched; refused or ticketed ones keep their own rules."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from hub.clock import FixedClock
from hub.storage.tables import RedemptionRow
from tests.redemptions.test_sync_api import AT, _client, _entry, _sell, _upload
from tests.support import ADMIN, BOX, TOMORROW, hub_of


async def _flow(client: Any) -> tuple[int, int, int]:
    resp = await client.get(
        "/api/admin/flow", params={"venue": "v1", "date": TOMORROW.isoformat()}, headers=ADMIN
    )
    flow = await resp.json()
    return flow["entries"], flow["exits"], flow["in_park"]


def _manual(rid: str, **over: Any) -> dict[str, Any]:
    return _entry(
        rid,
        "",
        kind="manual",
        code="MANUAL",
        staff="王芳",
        note="轮椅通道",
        device="handheld-王芳",
        **over,
    )


async def test_ticketless_manual_admissions_count_in_the_flow_once(
    aiohttp_client: Any, db_url: str
) -> None:
    client = await _client(aiohttp_client, db_url)
    sold = await _sell(client, "o1")
    ticket = sold["tickets"][0]["id"]
    batch = [_manual("m-1"), _manual("m-2"), _entry("d-1", ticket)]
    assert (await _upload(client, batch))["counted"] == 3
    assert (await _upload(client, batch))["duplicates"] == 3  # a retry counts nothing
    assert await _flow(client) == (3, 0, 3)

    # one of them was walked out by staff; a refused manual row moves nothing
    await _upload(client, [_manual("m-3", direction="out"), _manual("m-4", accepted=False)])
    assert await _flow(client) == (3, 1, 2)

    async with hub_of(client).engine.connect() as conn:
        red = RedemptionRow.__table__
        rows = (
            await conn.execute(
                select(red.c.id, red.c.kind, red.c.staff, red.c.counted).order_by(red.c.id)
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        ("d-1", "scan", "", True),
        ("m-1", "manual", "王芳", True),
        ("m-2", "manual", "王芳", True),
        ("m-3", "manual", "王芳", True),
        ("m-4", "manual", "王芳", False),
    ]
    body = await (await client.get(f"/api/boxoffice/orders/{sold['id']}", headers=BOX)).json()
    assert [t["entries_used"] for t in body["order"]["tickets"]] == [1]  # only the scan's

    clock = hub_of(client).clock
    assert isinstance(clock, FixedClock)
    clock.set(AT)  # the wall shows the hub's today: the admissions' day
    wall = await (await client.get("/api/admin/wall", params={"venue": "v1"}, headers=ADMIN)).json()
    north = [g for g in wall["gates"] if g["gate"] == "north"]
    assert north and north[0]["entries"] == 3 and north[0]["exits"] == 1, wall["gates"]

"""The hub side of bridge sync, on SQLite and PostgreSQL: changes by cursor, uploads
recorded once (retries, cut-in-the-middle batches), entries and order states, flow
counters, conflicts, and the bridge token."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from hub.api.app import create_app
from hub.clock import FixedClock
from hub.contracts import PartnerCall
from hub.hookspecs import hookimpl
from hub.plugins import build_plugins
from hub.storage.tables import OutboxRow, RedemptionRow
from tests.support import (
    ADMIN,
    BOX,
    T0,
    TOMORROW,
    hub_client,
    hub_of,
    order,
    put,
    seed,
    settings,
)

BRIDGE = {"Authorization": "Bearer bridge-v1"}
AT = T0 + timedelta(days=1)  # during the ticket's validity (TOMORROW, venue-local)


async def _client(aiohttp_client: Any, db_url: str) -> TestClient:
    client = await hub_client(aiohttp_client, db_url, bridge_tokens={"v1": "bridge-v1"})
    await seed(client)
    return client


async def _sell(client: TestClient, key: str, quantity: int = 1, **over: Any) -> dict[str, Any]:
    status, body = await order(client, key, quantity=quantity, confirm=True, **over)
    assert status == 201, body
    return body["order"]


async def _changes(client: TestClient, cursor: str = "", limit: int = 1000) -> dict[str, Any]:
    resp = await client.get(
        "/api/bridge/venues/v1/changes", params={"cursor": cursor, "limit": limit}, headers=BRIDGE
    )
    assert resp.status == 200, await resp.text()
    return await resp.json()


def _entry(rid: str, ticket_id: str, **over: Any) -> dict[str, Any]:
    return {
        "id": rid,
        "ticket_id": ticket_id,
        "gate": "north",
        "device": "qr-1",
        "medium": "qr",
        "direction": "in",
        "at": AT.isoformat(),
        "accepted": True,
        "offline": True,
        **over,
    }


async def _upload(client: TestClient, items: list[dict[str, Any]], bridge: str = "b1") -> Any:
    resp = await client.post(
        "/api/bridge/venues/v1/redemptions",
        json={"bridge": bridge, "redemptions": items},
        headers=BRIDGE,
    )
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def _count(client: TestClient, table: Any) -> int:
    async with hub_of(client).engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


async def test_bridge_token_is_per_venue(aiohttp_client: Any, db_url: str) -> None:
    client = await _client(aiohttp_client, db_url)
    for headers in ({}, ADMIN, {"Authorization": "Bearer nope"}):
        resp = await client.get("/api/bridge/venues/v1/changes", headers=headers)
        assert resp.status == 401
        assert (await resp.json())["code"] == "UNAUTHORIZED"
    resp = await client.get("/api/bridge/venues/v2/changes", headers=BRIDGE)
    assert resp.status == 401  # v1's token does not open v2


async def test_changes_by_cursor_cover_issue_refund_and_redeem(
    aiohttp_client: Any, db_url: str
) -> None:
    client = await _client(aiohttp_client, db_url)
    first = await _sell(client, "o1", quantity=3)
    page = await _changes(client, limit=2)
    assert len(page["tickets"]) == 2 and page["more"] is True
    rest = await _changes(client, page["cursor"], limit=2)
    assert len(rest["tickets"]) == 1 and rest["more"] is False
    seen = {t["id"] for t in page["tickets"] + rest["tickets"]}
    assert seen == {t["id"] for t in first["tickets"]}
    cursor = rest["cursor"]
    assert (await _changes(client, cursor))["tickets"] == []

    # a refund and a redemption each show up after the cursor, with the new state
    refund_id, redeem_id = first["tickets"][0]["id"], first["tickets"][1]["id"]
    resp = await client.post(
        f"/api/boxoffice/orders/{first['id']}/refund", json={"ticket_ids": [refund_id]}, headers=BOX
    )
    assert resp.status == 200, await resp.text()
    await _upload(client, [_entry("d-1", redeem_id)])
    after = await _changes(client, cursor)
    states = {t["id"]: (t["state"], t["entries_used"]) for t in after["tickets"]}
    assert states == {refund_id: ("revoked", 0), redeem_id: ("used", 1)}
    seqs = [t["seq"] for t in after["tickets"]]
    assert seqs == sorted(seqs) and min(seqs) > int(cursor.split(".")[0])

    resp = await client.get(
        "/api/bridge/venues/v1/changes", params={"cursor": "garbage"}, headers=BRIDGE
    )
    assert resp.status == 400 and (await resp.json())["code"] == "INVALID_REQUEST"


async def test_changes_carry_the_orders_slot(aiohttp_client: Any, db_url: str) -> None:
    """The bridge's slot_window rule needs the slot, which the signed QR cannot carry:
    a timed ticket brings its order's slot, a whole-day ticket none."""
    client = await _client(aiohttp_client, db_url)
    day = TOMORROW.isoformat()
    await put(
        client,
        "/api/admin/inventory",
        {"pool": "main", "date_from": day, "date_to": day, "slots": [{"code": "", "capacity": 5}]},
    )
    timed = await _sell(client, "o1", quantity=2)  # the 09:00-11:00 slot
    status, body = await order(client, "o2", slot="", confirm=True)
    assert status == 201, body
    afternoon = await _sell(client, "o3", slot="13:00-15:00")
    slots = {t["id"]: t["slot"] for t in (await _changes(client))["tickets"]}
    morning = {"code": "09:00-11:00", "start": "09:00:00", "end": "11:00:00"}
    assert slots == {
        **{t["id"]: morning for t in timed["tickets"]},
        body["order"]["tickets"][0]["id"]: None,
        afternoon["tickets"][0]["id"]: {
            "code": "13:00-15:00",
            "start": "13:00:00",
            "end": "15:00:00",
        },
    }


async def test_upload_is_recorded_once_whatever_the_retries(
    aiohttp_client: Any, db_url: str
) -> None:
    client = await _client(aiohttp_client, db_url)
    sold = await _sell(client, "o1", quantity=2)
    a, b = (t["id"] for t in sold["tickets"])
    batch = [_entry("d-1", a), _entry("d-2", b), _entry("d-3", "", accepted=False, code="X")]
    # the first half "reached the hub" before the link broke; then the whole batch again
    first = await _upload(client, batch[:1])
    assert first == {"recorded": 1, "duplicates": 0, "counted": 1, "conflicts": []}
    again = await _upload(client, batch)
    assert again == {"recorded": 2, "duplicates": 1, "counted": 1, "conflicts": []}
    assert (await _upload(client, batch))["duplicates"] == 3
    assert await _count(client, RedemptionRow.__table__) == 3

    body = await (await client.get(f"/api/boxoffice/orders/{sold['id']}", headers=BOX)).json()
    assert body["order"]["state"] == "redeemed"
    assert [t["entries_used"] for t in body["order"]["tickets"]] == [1, 1]

    flow = await (
        await client.get(
            "/api/admin/flow", params={"venue": "v1", "date": TOMORROW.isoformat()}, headers=ADMIN
        )
    ).json()
    assert flow == {
        "venue_id": "v1",
        "date": TOMORROW.isoformat(),
        "entries": 2,
        "exits": 0,
        "in_park": 2,
        "denied": 1,
        "conflicts": 0,
    }
    await _upload(client, [_entry("d-4", a, direction="out")])
    flow = await (
        await client.get(
            "/api/admin/flow", params={"venue": "v1", "date": TOMORROW.isoformat()}, headers=ADMIN
        )
    ).json()
    assert (flow["entries"], flow["exits"], flow["in_park"]) == (2, 1, 1)
    # the gauge is TODAY's in-park, read from the database: it is the scans' day now
    clock = hub_of(client).clock
    assert isinstance(clock, FixedClock)
    clock.set(AT)
    metrics = await (await client.get("/metrics")).text()
    assert 'tickethub_in_park{venue="v1"} 1.0' in metrics


async def test_double_use_at_two_offline_bridges_is_a_conflict(
    aiohttp_client: Any, db_url: str
) -> None:
    client = await _client(aiohttp_client, db_url)
    sold = await _sell(client, "o1")
    t = sold["tickets"][0]["id"]
    assert (await _upload(client, [_entry("east-1", t)], bridge="east"))["counted"] == 1
    late = await _upload(
        client, [_entry("west-1", t, at=(AT + timedelta(minutes=5)).isoformat())], bridge="west"
    )
    assert late == {"recorded": 1, "duplicates": 0, "counted": 0, "conflicts": ["west-1"]}
    listed = await (
        await client.get("/api/admin/redemptions/conflicts", params={"venue": "v1"}, headers=ADMIN)
    ).json()
    assert [(c["id"], c["conflict"], c["bridge"]) for c in listed["conflicts"]] == [
        ("west-1", "ENTRIES_EXHAUSTED", "west")
    ]
    changes = await _changes(client)
    assert [x["entries_used"] for x in changes["tickets"]] == [1]  # never past allowed
    metrics = await (await client.get("/metrics")).text()
    assert 'tickethub_redemption_conflicts_total{venue="v1"}' in metrics


class ConsumedNotices:
    """A channel-like plugin observing redemptions, as Ctrip's consumed notice does."""

    @hookimpl
    def ticket_redeemed(self, order: Any, ticket: Any, redemption: Any) -> list[PartnerCall]:
        return [
            PartnerCall(
                partner="boxoffice",
                kind="consumed",
                dedupe_key=f"consumed:{redemption.id}",
                payload={
                    "ticket": ticket.id,
                    "entries_used": ticket.entries_used,
                    "order_state": order.state.value,
                    "gate": redemption.gate,
                },
                order_id=order.id,
            )
        ]


async def test_redemption_fires_the_hook_into_the_outbox_once(
    aiohttp_client: Any, db_url: str
) -> None:
    plugins = build_plugins(extra=[ConsumedNotices()])
    app = create_app(
        settings(db_url, bridge_tokens={"v1": "bridge-v1"}), plugins=plugins, clock=FixedClock(T0)
    )
    client = await aiohttp_client(app)
    await seed(client)
    sold = await _sell(client, "o1", quantity=2)
    t = sold["tickets"][0]["id"]
    for _ in range(3):  # retries of the same upload
        await _upload(client, [_entry("d-1", t), _entry("d-2", "", accepted=False)])
    async with hub_of(client).engine.connect() as conn:
        rows = (
            await conn.execute(select(OutboxRow.__table__).where(OutboxRow.kind == "consumed"))
        ).all()
    assert [(r.dedupe_key, r.payload, r.order_id) for r in rows] == [
        (
            "consumed:d-1",
            {"ticket": t, "entries_used": 1, "order_state": "partly_redeemed", "gate": "north"},
            sold["id"],
        )
    ]


async def test_bad_uploads_are_refused_cleanly(aiohttp_client: Any, db_url: str) -> None:
    client = await _client(aiohttp_client, db_url)
    for body, status in (
        (b"not json", 400),
        # JSON that fails the model: 422, the field named
        (b'{"redemptions": [{"id": "x"}]}', 422),
        (b'{"redemptions": [{"id": "bad id!", "at": "2026-11-23T01:00:00Z", "accepted": 1}]}', 422),
        (b'{"redemptions": [{"id": "x", "at": "2026-11-23T01:00:00", "accepted": true}]}', 422),
    ):
        resp = await client.post("/api/bridge/venues/v1/redemptions", data=body, headers=BRIDGE)
        assert resp.status == status, body
        assert (await resp.json())["code"] == "INVALID_REQUEST"
    assert await _count(client, RedemptionRow.__table__) == 0

"""The order pipeline end to end through the box-office API, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select

from hub.domain.credentials import CredentialVerifier
from hub.storage.tables import IdDayCountRow
from tests.support import ADMIN, BOX, TOMORROW, hub_client, hub_of, id_number, order, seed


async def cells(client: Any, pool: str = "main") -> dict[str, dict[str, int]]:
    resp = await client.get(f"/api/admin/inventory?pool={pool}&date={TOMORROW}", headers=ADMIN)
    return {c["slot"]: c for c in (await resp.json())["cells"] if c["bucket"] == ""}


async def test_sell_issues_verifiable_tickets(aiohttp_client: Any, db_url: str) -> None:
    client = await hub_client(aiohttp_client, db_url)
    await seed(client)
    status, body = await order(client, "k1", quantity=2, confirm=True)
    assert status == 201, body
    o = body["order"]
    assert o["state"] == "confirmed" and o["amount"] == 20000
    assert len(o["tickets"]) == 2
    keys = await (await client.get("/api/venues/v1/keys")).json()
    verifier = CredentialVerifier({k["key_id"]: k["public_key"] for k in keys["keys"]})
    for t in o["tickets"]:
        claims = verifier.verify(t["credential"])
        assert claims.ticket_id == t["id"] and claims.product_id == "adult"
    assert (await cells(client))["09:00-11:00"]["sold"] == 2


async def test_replay_returns_first_answer_and_conflict_is_refused(
    aiohttp_client: Any, db_url: str
) -> None:
    client = await hub_client(aiohttp_client, db_url)
    await seed(client)
    s1, b1 = await order(client, "same", quantity=1, confirm=True)
    resp = await client.post(
        "/api/boxoffice/orders",
        json={
            "travel_date": TOMORROW.isoformat(),
            "slot": "09:00-11:00",
            "lines": [{"product_id": "adult", "quantity": 1}],
            "confirm": True,
        },
        headers={**BOX, "Idempotency-Key": "same"},
    )
    assert resp.status == s1 == 201
    assert resp.headers["Idempotent-Replay"] == "true"
    assert await resp.json() == b1
    s3, b3 = await order(client, "same", quantity=2, confirm=True)
    assert (s3, b3["code"]) == (409, "IDEMPOTENCY_CONFLICT")
    assert (await cells(client))["09:00-11:00"]["sold"] == 1


async def test_concurrent_replays_sell_once(aiohttp_client: Any, db_url: str) -> None:
    client = await hub_client(aiohttp_client, db_url)
    await seed(client)
    results = await asyncio.gather(
        *(order(client, "dup", quantity=1, confirm=True) for _ in range(12))
    )
    ids = {b["order"]["id"] for s, b in results}
    assert len(ids) == 1 and all(s == 201 for s, _ in results)
    assert (await cells(client))["09:00-11:00"]["sold"] == 1


async def test_concurrent_orders_never_oversell(aiohttp_client: Any, db_url: str) -> None:
    client = await hub_client(aiohttp_client, db_url)
    await seed(client, capacity=10)
    results = await asyncio.gather(
        *(order(client, f"c{i}", quantity=1 + i % 3, confirm=i % 2 == 0) for i in range(40))
    )
    accepted = sum(line["quantity"] for s, b in results if s == 201 for line in b["order"]["lines"])
    refused = {b["code"] for s, b in results if s != 201}
    assert refused == {"SOLD_OUT"}
    c = (await cells(client))["09:00-11:00"]
    assert c["held"] + c["sold"] == accepted <= 10
    # and it really sold: 40 orders of 1-3 units leave at most 2 places no order fitted
    assert accepted >= 8
    audit = await (
        await client.get(f"/api/admin/audit?pool=main&date={TOMORROW}", headers=ADMIN)
    ).json()
    slot = next(s for s in audit["slots"] if s["slot"] == "09:00-11:00")
    assert slot["allocated"] == accepted and slot["oversold"] == 0


async def test_sold_out_reports_real_stock(aiohttp_client: Any, db_url: str) -> None:
    client = await hub_client(aiohttp_client, db_url)
    await seed(client, capacity=3)
    assert (await order(client, "a", quantity=2, confirm=True))[0] == 201
    status, body = await order(client, "b", quantity=2, confirm=True)
    assert (status, body["code"], body["details"]["available"]) == (409, "SOLD_OUT", 1)


async def test_combo_takes_all_components_or_none(aiohttp_client: Any, db_url: str) -> None:
    client = await hub_client(aiohttp_client, db_url)
    await seed(client, capacity=5)
    # Exhaust `main` only. The combo takes `cable` first (pools in sorted order), then
    # fails on `main`: the cable car it took must be given back in the same transaction.
    assert (await order(client, "main", product="adult", quantity=5, confirm=True))[0] == 201
    status, body = await order(client, "combo", product="combo", quantity=1, confirm=True)
    assert (status, body["code"]) == (409, "SOLD_OUT")
    assert (await cells(client, "cable"))["09:00-11:00"]["sold"] == 0
    status, body = await order(
        client, "combo2", product="combo", quantity=1, confirm=True, slot="13:00-15:00"
    )
    assert status == 201
    assert (await cells(client, "main"))["13:00-15:00"]["sold"] == 1
    assert (await cells(client, "cable"))["13:00-15:00"]["sold"] == 1


async def test_hold_confirm_cancel_refund_move_stock(aiohttp_client: Any, db_url: str) -> None:
    client = await hub_client(aiohttp_client, db_url)
    await seed(client)
    status, body = await order(client, "h1", quantity=3)
    assert status == 201 and body["order"]["state"] == "held" and body["order"]["tickets"] == []
    oid = body["order"]["id"]
    assert (await cells(client))["09:00-11:00"]["held"] == 3
    resp = await client.post(f"/api/boxoffice/orders/{oid}/confirm", json={}, headers=BOX)
    confirmed = (await resp.json())["order"]
    assert (
        resp.status == 200 and confirmed["state"] == "confirmed" and len(confirmed["tickets"]) == 3
    )
    c = (await cells(client))["09:00-11:00"]
    assert (c["held"], c["sold"]) == (0, 3)
    one = confirmed["tickets"][0]["id"]
    resp = await client.post(
        f"/api/boxoffice/orders/{oid}/refund", json={"ticket_ids": [one]}, headers=BOX
    )
    body = await resp.json()
    assert (
        resp.status == 200
        and body["refunded_tickets"] == [one]
        and body["refunded_amount"] == 10000
    )
    assert body["order"]["state"] == "confirmed"
    assert (await cells(client))["09:00-11:00"]["sold"] == 2
    revoked = await (await client.get("/api/venues/v1/revocations")).json()
    assert [r["ticket_id"] for r in revoked["revoked"]] == [one]
    resp = await client.post(f"/api/boxoffice/orders/{oid}/refund", json={}, headers=BOX)
    assert (await resp.json())["order"]["state"] == "refunded"
    assert (await cells(client))["09:00-11:00"]["sold"] == 0
    # a held order cancelled gives its hold back
    _, body = await order(client, "h2", quantity=2)
    resp = await client.post(f"/api/boxoffice/orders/{body['order']['id']}/cancel", headers=BOX)
    assert (await resp.json())["order"]["state"] == "cancelled"
    c = (await cells(client))["09:00-11:00"]
    assert (c["held"], c["sold"]) == (0, 0)


async def test_hold_expires_and_releases_stock(aiohttp_client: Any, db_url: str) -> None:
    from hub.clock import FixedClock
    from tests.support import T0

    clock = FixedClock(T0)
    client = await hub_client(aiohttp_client, db_url, clock=clock, hold_ttl_seconds=60)
    await seed(client, capacity=2)
    _, body = await order(client, "hold", quantity=2)
    oid = body["order"]["id"]
    assert (await order(client, "late", quantity=1))[1]["code"] == "SOLD_OUT"
    orders = hub_of(client).orders
    assert await orders.lifecycle.expire_due(clock.now()) == 0
    clock.advance(seconds=61)
    assert await orders.lifecycle.expire_due(clock.now()) == 1
    assert (await cells(client))["09:00-11:00"]["held"] == 0
    resp = await client.post(f"/api/boxoffice/orders/{oid}/confirm", json={}, headers=BOX)
    assert (resp.status, (await resp.json())["code"]) == (409, "HOLD_EXPIRED")
    assert (await order(client, "after", quantity=2))[0] == 201


async def test_per_id_limit_counts_across_channels(aiohttp_client: Any, db_url: str) -> None:
    from hub.domain import OrderLine, OrderRequest, Visitor

    client = await hub_client(aiohttp_client, db_url)
    await seed(client)
    person = id_number("19850101", 42)
    visitor = {"name": "张三", "id_type": "id_card", "id_number": person}
    status, _ = await order(client, "r1", product="realname", visitors=[visitor], confirm=True)
    assert status == 201
    # The same person through another channel (the order service directly, as an OTA would).
    outcome = await hub_of(client).orders.place(
        OrderRequest(
            channel="ota",
            partner_order_id="x1",
            travel_date=TOMORROW,
            slot="13:00-15:00",
            lines=(OrderLine(product_id="realname", quantity=1),),
            visitors=(Visitor(**visitor),),
            confirm=True,
        )
    )
    assert (outcome.status, outcome.code) == (409, "ID_DAILY_LIMIT")
    assert person not in outcome.body["message"]
    async with hub_of(client).engine.connect() as conn:
        keys = (await conn.execute(select(IdDayCountRow.id_key))).scalars().all()
    assert keys and all(person not in k for k in keys)
    # Cancelling the first order frees the limit again.
    first = await hub_of(client).orders.get(channel="boxoffice", partner_order_id="r1")
    assert first is not None
    assert (await hub_of(client).orders.cancel(first.id)).ok
    status, _ = await order(client, "r2", product="realname", visitors=[visitor], confirm=True)
    assert status == 201


async def test_rule_denials_carry_codes(aiohttp_client: Any, db_url: str) -> None:
    client = await hub_client(aiohttp_client, db_url)
    await seed(client)
    bad = id_number()[:-1] + ("0" if id_number()[-1] != "0" else "1")
    status, body = await order(
        client, "bad-id", product="realname", visitors=[{"name": "李四", "id_number": bad}]
    )
    assert (status, body["code"]) == (422, "INVALID_ID_NUMBER")
    assert bad not in body["message"]
    status, body = await order(client, "no-visitor", product="realname")
    assert body["code"] in {"VISITOR_COUNT_MISMATCH", "REAL_NAME_REQUIRED"}
    status, body = await order(client, "nope", product="ghost")
    assert (status, body["code"]) == (422, "UNKNOWN_PRODUCT")
    status, body = await order(client, "amount", amount=1)
    assert (status, body["code"]) == (422, "AMOUNT_MISMATCH")
    status, body = await order(client, "slot", slot="18:00-19:00")
    assert (status, body["code"]) == (422, "SLOT_NOT_USABLE")

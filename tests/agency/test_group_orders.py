"""Group orders end to end over the signed HTTP API: booking charges the account with the
stock, replays return the first answer, approvals, refunds, amendments, statements."""

from __future__ import annotations

from typing import Any

from hub.clock import FixedClock
from tests.agency.kit import account, call, group, make_agency, visitors
from tests.support import ADMIN, T0, hub_client, hub_of, seed


async def test_book_replay_refund_and_statement(aiohttp_client: Any, db_url: str) -> None:
    client = await hub_client(aiohttp_client, db_url)
    await seed(client, capacity=10)
    creds = await make_agency(client, "sun", top_up=100000)
    status, body = await call(
        client, creds, "POST", "/api/agency/groups", group("G1", 3, visitors=visitors(3))
    )
    assert status == 201, body
    g = body["group"]
    assert g["status"] == "confirmed" and g["amount"] == 30000 and len(g["members"]) == 3
    assert (await account(client, "sun"))["balance"] == 70000
    # replay: the first answer, no second charge
    status, again = await call(
        client, creds, "POST", "/api/agency/groups", group("G1", 3, visitors=visitors(3))
    )
    assert status == 200 and again["group"]["order_id"] == g["order_id"]
    assert (await account(client, "sun"))["balance"] == 70000
    # refund one visitor
    one = g["members"][0]["ticket_id"]
    status, body = await call(
        client,
        creds,
        "POST",
        "/api/agency/groups/G1/refund",
        {"refund_no": "R1", "ticket_ids": [one]},
    )
    assert status == 200, body
    assert len(body["group"]["members"]) == 2
    assert (await account(client, "sun"))["balance"] == 80000
    entries = await hub_of(client).orders.accounts.entries("agency:sun")
    assert [(e.kind, e.amount) for e in entries] == [
        ("top_up", 100000),
        ("charge", -30000),
        ("refund", 10000),
    ]
    resp = await client.get(
        "/api/admin/agencies/sun/statement?from=2026-11-01&to=2026-11-30", headers=ADMIN
    )
    st = await resp.json()
    assert (st["opening_balance"], st["closing_balance"], st["charged"], st["refunded"]) == (
        0,
        80000,
        30000,
        10000,
    )
    assert [o["order_no"] for o in st["orders"]] == ["G1"]
    resp = await client.get(
        "/api/admin/agencies/sun/statement?from=2026-11-01&to=2026-11-30&format=csv",
        headers=ADMIN,
    )
    text = await resp.text()
    assert "opening_balance" in text and "closing_balance,,80000" in text


async def test_negotiated_price_credit_and_overdraft(aiohttp_client: Any, db_url: str) -> None:
    client = await hub_client(aiohttp_client, db_url)
    await seed(client, capacity=10)
    creds = await make_agency(client, "cr", payment="credit", credit_limit=16000)
    resp = await client.put(
        "/api/admin/agencies/cr/prices", json={"product_id": "adult", "amount": 8000}, headers=ADMIN
    )
    assert resp.status == 200
    status, body = await call(client, creds, "POST", "/api/agency/groups", group("A", 2))
    assert status == 201 and body["group"]["amount"] == 16000
    status, body = await call(client, creds, "POST", "/api/agency/groups", group("B", 1))
    assert (status, body["code"]) == (422, "INSUFFICIENT_FUNDS")
    assert (await account(client, "cr"))["balance"] == -16000


async def test_approval_hold_then_approve_or_reject(aiohttp_client: Any, db_url: str) -> None:
    client = await hub_client(aiohttp_client, db_url)
    await seed(client, capacity=10)
    creds = await make_agency(client, "ap", top_up=50000, require_approval=True)
    _, a = await call(client, creds, "POST", "/api/agency/groups", group("A", 2))
    _, b = await call(client, creds, "POST", "/api/agency/groups", group("B", 2))
    assert a["group"]["status"] == "pending" and a["group"]["state"] == "held"
    assert (await account(client, "ap"))["balance"] == 10000  # money held with the stock
    resp = await client.get("/api/admin/agency-approvals", headers=ADMIN)
    assert len((await resp.json())["pending"]) == 2
    resp = await client.post(
        f"/api/admin/agency-groups/{a['group']['order_id']}/approve", headers=ADMIN
    )
    approved = await resp.json()
    assert approved["group"]["state"] == "confirmed" and approved["group"]["members"]
    resp = await client.post(
        f"/api/admin/agency-groups/{b['group']['order_id']}/reject", headers=ADMIN
    )
    assert (await resp.json())["group"]["state"] == "cancelled"
    assert (await account(client, "ap"))["balance"] == 30000
    resp = await client.get("/api/admin/agency-approvals", headers=ADMIN)
    assert (await resp.json())["pending"] == []


async def test_amendment_replace_and_cutoff(aiohttp_client: Any, db_url: str) -> None:
    clock = FixedClock(T0)
    client = await hub_client(aiohttp_client, db_url, clock=clock)
    await seed(client, capacity=10, rules={"sale": [{"check": "real_name"}]})
    creds = await make_agency(client, "am", top_up=100000)
    _, body = await call(
        client, creds, "POST", "/api/agency/groups", group("G", 2, visitors=visitors(2))
    )
    gone = body["group"]["members"][0]["ticket_id"]
    new = visitors(1, start=500)
    status, body = await call(
        client,
        creds,
        "POST",
        "/api/agency/groups/G/amendments",
        {"amendment_no": "1", "remove": [gone], "add": new},
    )
    assert status == 200, body
    members = body["group"]["members"]
    assert len(members) == 2 and gone not in {m["ticket_id"] for m in members}
    assert (await account(client, "am"))["balance"] == 80000  # +1 charged, -1 refunded
    # over the head count
    status, body = await call(
        client,
        creds,
        "POST",
        "/api/agency/groups/G/amendments",
        {"amendment_no": "2", "add": visitors(1, start=600)},
    )
    assert (status, body["code"]) == (422, "OVER_HEAD_COUNT")
    # after the cut-off (the day before at 18:00 venue time = 10:00 UTC)
    clock.advance(hours=9)
    status, body = await call(
        client,
        creds,
        "POST",
        "/api/agency/groups/G/amendments",
        {"amendment_no": "3", "remove": [members[0]["ticket_id"]]},
    )
    assert (status, body["code"]) == (409, "ROSTER_CLOSED")
    assert (await account(client, "am"))["balance"] == 80000


async def test_noshows_warn_then_suspend(aiohttp_client: Any, sqlite_url: str) -> None:
    client = await hub_client(aiohttp_client, sqlite_url)
    await seed(client, capacity=10)
    policy = {"warn_at": 2, "suspend_at": 4, "period_days": 7}
    creds = await make_agency(client, "ns", top_up=100000, no_show=policy)
    await call(client, creds, "POST", "/api/agency/groups", group("N1", 3))
    run = "/api/admin/agency-noshows/run?today=2026-11-24"
    line = (await (await client.post(run, headers=ADMIN)).json())["agencies"][0]
    assert (line["no_shows"], line["action"]) == (3, "warned")
    await call(client, creds, "POST", "/api/agency/groups", group("N2", 1))
    line = (await (await client.post(run, headers=ADMIN)).json())["agencies"][0]
    assert (line["no_shows"], line["action"]) == (4, "suspended")
    assert (await account(client, "ns"))["status"] == "suspended"

"""What the agency API must survive: each refused clearly, nothing written."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from sqlalchemy import func, select

from hub.api.app import HUB
from hub.storage.tables import OrderRow, PluginRecordRow
from plugins.channel_agency.signing import signed_headers
from tests.agency.kit import account, call, group, make_agency, visitors
from tests.support import ADMIN, hub_client, hub_of, id_number, seed


async def test_unsigned_tampered_and_replayed(aiohttp_client: Any, sqlite_url: str) -> None:
    client = await hub_client(aiohttp_client, sqlite_url)
    await seed(client)
    creds = await make_agency(client, "a", top_up=100000)
    resp = await client.get("/api/agency/account")
    assert (resp.status, (await resp.json())["code"]) == (401, "MISSING_SIGNATURE")
    body = json.dumps(group("X", 1)).encode()
    now = int(client.app[HUB].clock.now().timestamp())
    h = signed_headers(
        creds["key_id"], creds["secret"], "POST", "/api/agency/groups", None, body, now=now
    )
    resp = await client.post("/api/agency/groups", data=body + b" ", headers=h)
    assert (resp.status, (await resp.json())["code"]) == (401, "BAD_SIGNATURE")
    resp = await client.post("/api/agency/groups", data=body, headers=h)
    assert resp.status == 201
    resp = await client.post("/api/agency/groups", data=body, headers=h)
    assert (resp.status, (await resp.json())["code"]) == (401, "REPLAYED")
    wrong = {**creds, "secret": "nope"}
    status, out = await call(client, wrong, "GET", "/api/agency/account")
    assert (status, out["code"]) == (401, "BAD_SIGNATURE")
    # rotated credentials: the old key is gone
    resp = await client.post("/api/admin/agencies/a/credentials", headers=ADMIN)
    status, out = await call(client, creds, "GET", "/api/agency/account")
    assert (status, out["code"]) == (401, "UNKNOWN_KEY")
    assert (await account(client, "a"))["balance"] == 90000  # one booking only


async def test_suspended_agency_and_rate_limit(aiohttp_client: Any, sqlite_url: str) -> None:
    client = await hub_client(aiohttp_client, sqlite_url)
    await seed(client)
    creds = await make_agency(client, "s", top_up=100000, burst=2, rate_per_second=0.001)
    assert (await call(client, creds, "GET", "/api/agency/account"))[0] == 200
    assert (await call(client, creds, "GET", "/api/agency/account"))[0] == 200
    status, out = await call(client, creds, "GET", "/api/agency/account")
    assert (status, out["code"]) == (429, "RATE_LIMITED")
    resp = await client.post(
        "/api/admin/agencies/s/status", json={"status": "suspended"}, headers=ADMIN
    )
    assert (await resp.json())["account"]["status"] == "suspended"
    status, out = await call(client, creds, "POST", "/api/agency/groups", group("S", 1))
    assert (status, out["code"]) == (403, "AGENCY_SUSPENDED")


async def test_bad_rosters_small_groups_and_bodies(aiohttp_client: Any, sqlite_url: str) -> None:
    client = await hub_client(aiohttp_client, sqlite_url, max_body_bytes=64 * 1024)
    await seed(client, rules={"sale": [{"check": "group_size", "min": 5}]})
    creds = await make_agency(client, "b", top_up=1000000)
    bad = visitors(5)
    bad[1] = {"name": "Li Si", "id_number": "110101199003071239"}  # bad check digit
    bad[3] = dict(bad[0])  # duplicate
    status, out = await call(
        client, creds, "POST", "/api/agency/groups", group("R", 5, visitors=bad)
    )
    assert (status, out["code"]) == (422, "ROSTER_INVALID")
    rows = {(e["row"], e["code"]) for e in out["details"]["errors"]}
    assert (2, "INVALID_ID_NUMBER") in rows and (4, "DUPLICATE_IN_GROUP") in rows
    assert "report_csv" in out["details"]
    status, out = await call(client, creds, "POST", "/api/agency/groups", group("S", 3))
    assert (status, out["code"]) == (422, "GROUP_TOO_SMALL")
    status, out = await call(client, creds, "POST", "/api/agency/groups", raw=b"{not json")
    assert (status, out["code"]) == (400, "INVALID_REQUEST")
    status, out = await call(client, creds, "POST", "/api/agency/groups", raw=b"[1]")
    assert status == 400
    status, out = await call(
        client, creds, "POST", "/api/agency/groups", raw=b'{"x":"' + b"a" * 70000 + b'"}'
    )
    assert (status, out["code"]) == (413, "BODY_TOO_LARGE")
    status, out = await call(client, creds, "POST", "/api/agency/groups", {"order_no": "x"})
    assert status == 400
    assert (await account(client, "b"))["balance"] == 1000000


async def test_roster_upload_and_already_booked(aiohttp_client: Any, sqlite_url: str) -> None:
    client = await hub_client(aiohttp_client, sqlite_url)
    await seed(client)
    creds = await make_agency(client, "u", top_up=1000000)
    csv = (
        "姓名,证件类型,证件号码,手机\n".encode()
        + "".join(
            f"Visitor {chr(65 + i)},身份证,{id_number(seq=300 + i)},1380013800{i}\n"
            for i in range(3)
        ).encode()
    )
    status, out = await call(
        client,
        creds,
        "POST",
        "/api/agency/rosters?filename=g.csv",
        raw=csv,
        headers={"Content-Type": "text/csv"},
    )
    assert status == 201, out
    roster_id = out["roster_id"]
    # kept until booked, but sealed: the stored document holds no ID number in clear
    async with hub_of(client).engine.connect() as conn:
        docs = (await conn.execute(select(PluginRecordRow.doc))).scalars().all()
    assert docs and not any(id_number(seq=300 + i) in str(d) for d in docs for i in range(3))
    payload = group("U1", 3, product_id="realname", roster_id=roster_id)
    status, out = await call(client, creds, "POST", "/api/agency/groups", payload)
    assert status == 201, out
    # the same visitor again on another order for that day: named by row
    again = [{"name": "Visitor A", "id_number": id_number(seq=300)}]
    status, out = await call(
        client,
        creds,
        "POST",
        "/api/agency/groups",
        group("U2", 1, product_id="realname", visitors=again),
    )
    assert (status, out["code"]) == (409, "ID_DAILY_LIMIT")
    assert out["details"]["errors"][0]["row"] == 1


async def test_agencies_race_for_last_places_and_credit(aiohttp_client: Any, db_url: str) -> None:
    """Four agencies, each able to pay for 4 places, race over HTTP for a slot of 10: the
    slot is not oversold, no account is overdrawn, and stock, money and orders agree."""
    client = await hub_client(aiohttp_client, db_url)
    await seed(client, capacity=10)
    names = ["r1", "r2", "r3", "r4"]
    creds = {}
    for n in names:
        creds[n] = await make_agency(
            client, n, payment="credit", credit_limit=40000, burst=1000, rate_per_second=1000
        )
    results = await asyncio.gather(
        *(
            call(client, creds[n], "POST", "/api/agency/groups", group(f"{n}-{i}", 2))
            for i in range(4)
            for n in names
        )
    )
    assert {out.get("code") for s, out in results if s >= 300} <= {"SOLD_OUT", "INSUFFICIENT_FUNDS"}
    ok = [out for s, out in results if s == 201]
    resp = await client.get("/api/admin/audit?pool=main&date=2026-11-23", headers=ADMIN)
    slot = next(s for s in (await resp.json())["slots"] if s["slot"] == "09:00-11:00")
    assert slot["oversold"] == 0 and slot["allocated"] == 2 * len(ok) <= 10
    for n in names:
        acct = await account(client, n)
        mine = [o for o in ok if o["group"]["agency"] == n]
        assert acct["balance"] >= -acct["credit_limit"]
        assert acct["balance"] == -20000 * len(mine)
        entries = await client.app[HUB].orders.accounts.entries(f"agency:{n}")
        assert sum(e.amount for e in entries) == acct["balance"]


async def test_a_group_without_a_roster_is_refused_before_anything_is_taken(
    aiohttp_client: Any, sqlite_url: str
) -> None:
    """No visitors and no roster_id: nobody to issue tickets to. Refused in the agency
    API's vocabulary (422 ROSTER_REQUIRED) before any stock is held or money charged."""
    client = await hub_client(aiohttp_client, sqlite_url)
    await seed(client)
    creds = await make_agency(client, "e", top_up=100000)
    bare = group("EMPTY-1", 3)
    del bare["visitors"]
    for body in (bare, {**bare, "visitors": []}, {**bare, "roster_id": None}):
        status, out = await call(client, creds, "POST", "/api/agency/groups", body)
        assert (status, out["code"]) == (422, "ROSTER_REQUIRED"), out
        assert out["details"]["errors"][0]["field"] == "visitors"
    assert (await account(client, "e"))["balance"] == 100000
    status, out = await call(client, creds, "GET", "/api/agency/groups/EMPTY-1")
    assert (status, out["code"]) == (404, "UNKNOWN_ORDER")
    resp = await client.get("/api/admin/inventory?pool=main&date=2026-11-23", headers=ADMIN)
    assert all(c["held"] == 0 and c["sold"] == 0 for c in (await resp.json())["cells"])
    async with client.app[HUB].engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(OrderRow))).scalar_one() == 0
    # the same group with its roster goes through
    status, out = await call(client, creds, "POST", "/api/agency/groups", group("EMPTY-1", 3))
    assert status == 201, out
    assert (await account(client, "e"))["balance"] == 100000 - 3 * 10000

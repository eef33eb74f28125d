"""The day report against the orders themselves, on SQLite and PostgreSQL.

Orders are made through the box-office API and paper tickets through the backfill API,
on a hand-moved clock around the venue's midnights (Asia/Shanghai, eight hours ahead of
UTC: a sale at 00:10 local is on the previous UTC day). The test then recounts every
day from all order and ticket rows in plain Python and compares, and checks a few cells
against what the scenario did."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp.test_utils import TestClient
from sqlalchemy import select, update

from hub.clock import FixedClock
from hub.orders.records import ORD, TIX
from hub.reconcile.money import yuan
from hub.reconcile.report import revoked_query, sales_query, visits_query
from tests.support import ADMIN, BOX, T0, TOMORROW, hub_client, hub_of, order, seed

TZ = ZoneInfo("Asia/Shanghai")
LIVE = {"confirmed", "partly_redeemed", "redeemed"}


def local(y: int, m: int, d: int, hh: int, mm: int) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=TZ).astimezone(UTC)


async def _confirmed(client: TestClient, key: str, **over: Any) -> dict[str, Any]:
    status, body = await order(client, key, confirm=True, **over)
    assert status == 201, body
    return body["order"]


async def _post(client: TestClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    resp = await client.post(path, json=body, headers=BOX)
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def _scenario(client: TestClient, clock: FixedClock) -> None:
    clock.set(local(2026, 11, 22, 23, 50))
    a = await _confirmed(client, "A", quantity=2)
    clock.set(local(2026, 11, 23, 0, 10))
    b = await _confirmed(client, "B", product="combo")
    c = await _confirmed(client, "C", slot="13:00-15:00")
    d = await _confirmed(client, "D", product="cable", quantity=3)
    assert (await order(client, "H"))[0] == 201  # held, never paid: in no column
    clock.set(local(2026, 11, 23, 9, 0))
    await _post(
        client, f"/api/boxoffice/orders/{a['id']}/refund", {"ticket_ids": [a["tickets"][0]["id"]]}
    )
    await _post(client, f"/api/boxoffice/orders/{b['id']}/refund", {})
    await _post(client, f"/api/boxoffice/orders/{d['id']}/cancel", {})
    clock.set(local(2026, 11, 23, 10, 0))
    paper = {
        "venue_id": "v1",
        "product_id": "adult",
        "travel_date": TOMORROW.isoformat(),
        "slot": "09:00-11:00",
        "staff": "zhang",
        "tickets": [  # one at the product's price, one at the price written on it
            {"paper_no": "P-0001", "used_at": "2026-11-23T09:30:00+08:00", "gate": "g1"},
            {"paper_no": "P-0002", "price": 8000},
        ],
    }
    resp = await client.post("/api/admin/backfill", json=paper, headers=ADMIN)
    assert resp.status == 200, await resp.text()
    async with hub_of(client).engine.begin() as conn:  # A's kept ticket went through a gate
        await conn.execute(
            update(TIX).where(TIX.c.id == a["tickets"][1]["id"]).values(entries_used=1)
        )
    clock.set(local(2026, 11, 24, 0, 30))
    await _confirmed(client, "E", travel_date=(TOMORROW + timedelta(days=2)).isoformat())
    await _post(client, f"/api/boxoffice/orders/{c['id']}/refund", {})


async def _recount(client: TestClient, day: date) -> dict[tuple[str, ...], dict[str, int]]:
    """The report's figures from every order and ticket row, by plain Python."""
    async with hub_of(client).engine.connect() as conn:
        orders = {o.id: o for o in await conn.execute(select(ORD))}
        tickets = list(await conn.execute(select(TIX)))
    out: dict[tuple[str, ...], dict[str, int]] = defaultdict(lambda: defaultdict(int))

    def on_day(at: datetime | None) -> bool:
        return at is not None and at.astimezone(TZ).date() == day

    for o in orders.values():
        if on_day(o.confirmed_at):
            for product in {ln["product_id"] for ln in o.lines}:
                out[(o.venue_id, o.channel, product, o.slot)]["orders"] += 1
            for ln in o.lines:
                cell = out[(o.venue_id, o.channel, ln["product_id"], o.slot)]
                cell["tickets_sold"] += ln["quantity"]
                cell["gross"] += ln["quantity"] * (ln.get("unit_price") or 0)
    for t in tickets:
        o = orders[t.order_id]
        cell = out[(o.venue_id, o.channel, t.product_id, o.slot)]
        price = {ln["product_id"]: ln.get("unit_price") or 0 for ln in o.lines}[t.product_id]
        if on_day(t.revoked_at) and o.confirmed_at is not None:
            cell["refunded"] += t.units
            cell["refunds"] += t.units * price
        if o.travel_date == day and o.state in LIVE and t.state != "revoked":
            cell["used" if t.entries_used else "not_shown"] += t.units
    counted = {k: {name: n for name, n in v.items() if n} for k, v in out.items()}
    return {k: v for k, v in counted.items() if v}


def _as_counts(row: dict[str, Any]) -> dict[str, int]:
    counts = {k: row[k] for k in ("orders", "tickets_sold", "refunded", "used", "not_shown")}
    counts["gross"] = round(float(row["gross"]) * 100)
    counts["refunds"] = round(float(row["refunds"]) * 100)
    assert row["net"] == yuan(counts["gross"] - counts["refunds"])
    return {k: v for k, v in counts.items() if v}


async def test_the_report_recounts_from_the_orders(aiohttp_client: Any, db_url: str) -> None:
    clock = FixedClock(T0)
    client = await hub_client(aiohttp_client, db_url, clock=clock)
    await seed(client)
    await _scenario(client, clock)
    reports = {}
    for day in (date(2026, 11, 22), date(2026, 11, 23), date(2026, 11, 24)):
        resp = await client.get(f"/api/admin/reports/daily?date={day}&venue=v1", headers=ADMIN)
        assert resp.status == 200
        report = await resp.json()
        got = {
            (r["venue"], r["channel"], r["product"], r["slot"]): _as_counts(r)
            for r in report["rows"]
        }
        assert got == await _recount(client, day), day
        reports[day] = got
    d = reports[date(2026, 11, 23)]
    # A (2 adults, paid 23:50 on the 22nd): one refunded and one used on the 23rd
    assert d[("v1", "boxoffice", "adult", "09:00-11:00")] == {
        "refunded": 1,
        "refunds": 10000,
        "used": 1,
    }
    assert reports[date(2026, 11, 22)][("v1", "boxoffice", "adult", "09:00-11:00")] == {
        "orders": 1,
        "tickets_sold": 2,
        "gross": 20000,
    }
    # paid 00:10 local (16:10 UTC the day before) counts on the 23rd; refunded on the 24th
    assert d[("v1", "boxoffice", "adult", "13:00-15:00")] == {
        "orders": 1,
        "tickets_sold": 1,
        "gross": 10000,
    }
    assert d[("v1", "boxoffice", "cable", "09:00-11:00")] == {
        "orders": 1,
        "tickets_sold": 3,
        "gross": 15000,
        "refunded": 3,
        "refunds": 15000,
    }
    assert d[("v1", "paper", "adult", "09:00-11:00")] == {
        "orders": 2,
        "tickets_sold": 2,
        "gross": 18000,
        "used": 1,
        "not_shown": 1,
    }
    assert reports[date(2026, 11, 24)][("v1", "boxoffice", "adult", "13:00-15:00")] == {
        "refunded": 1,
        "refunds": 10000,
    }
    csv_resp = await client.get(
        "/api/admin/reports/daily?date=2026-11-23&format=csv", headers=ADMIN
    )
    text = (await csv_resp.read()).decode("utf-8-sig")
    assert text.splitlines()[0].startswith("date,venue,channel,product,slot,orders")
    assert "2026-11-23,v1,paper,adult,09:00-11:00,2,2,0,1,1,180.00,0.00,180.00" in text


async def test_report_refusals(aiohttp_client: Any, sqlite_url: str) -> None:
    client = await hub_client(aiohttp_client, sqlite_url)
    await seed(client)
    cases = [
        ("/api/admin/reports/daily?date=2026-13-01", ADMIN, 400, "INVALID_REQUEST"),
        ("/api/admin/reports/daily?date=2026-11-23&venue=nowhere", ADMIN, 404, "UNKNOWN_VENUE"),
        ("/api/admin/reports/daily?date=2026-11-23&format=pdf", ADMIN, 400, "INVALID_REQUEST"),
        ("/api/admin/reports/daily?date=2026-11-23", BOX, 401, "UNAUTHORIZED"),
    ]
    for path, headers, status, code in cases:
        resp = await client.get(path, headers=headers)
        assert (resp.status, (await resp.json())["code"]) == (status, code), path


async def _plan(conn: Any, stmt: Any) -> str:
    compiled = stmt.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    sqlite = conn.dialect.name == "sqlite"

    def arg(v: Any) -> Any:
        if isinstance(v, datetime) and sqlite:
            return v.astimezone(UTC).replace(tzinfo=None).isoformat(" ")
        return v

    params = tuple(arg(compiled.params[k]) for k in compiled.positiontup)
    if sqlite:
        rows = await conn.exec_driver_sql("EXPLAIN QUERY PLAN " + str(compiled), params)
        return " | ".join(str(r[-1]) for r in rows)
    await conn.exec_driver_sql("SET enable_seqscan = off")  # tiny tables: ask if it CAN
    rows = await conn.exec_driver_sql("EXPLAIN " + str(compiled), params)
    return " | ".join(str(r[0]) for r in rows)


async def test_the_day_is_read_through_indexes(aiohttp_client: Any, db_url: str) -> None:
    client = await hub_client(aiohttp_client, db_url)
    start, end = local(2026, 11, 23, 0, 0), local(2026, 11, 24, 0, 0)
    async with hub_of(client).engine.connect() as conn:
        sales = await _plan(conn, sales_query("v1", start, end))
        revoked = await _plan(conn, revoked_query("v1", start, end))
        visits = await _plan(conn, visits_query("v1", date(2026, 11, 23)))
    assert "ix_orders_venue_confirmed" in sales, sales
    # the refunds may start from either venue-led index on ticket (PostgreSQL picks by
    # statistics; the change feed's (venue_id, change_seq, id) leads with the venue too)
    assert "ix_ticket_venue_revoked" in revoked or "ix_ticket_change_id" in revoked, revoked
    # the visits may start from either index on orders (PostgreSQL picks by statistics)
    assert "ix_orders_day" in visits or "ix_orders_venue_confirmed" in visits, visits
    for plan in (sales, revoked, visits):
        assert "Seq Scan" not in plan and "SCAN orders" not in plan and "SCAN ticket" not in plan

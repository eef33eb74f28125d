"""The flow wall's counters, on SQLite and PostgreSQL: after a mixed day — sales on two
channels and two slots, a late confirmation, a refund, cancellations, scans in and out at
two gates across 5-minute buckets, a denial, a double use, a paper ticket, partner calls
moving through the outbox — every counter row equals a recount from the rows it counts,
and the wall shows the figures."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from hub.api.app import create_app
from hub.clock import FixedClock
from hub.contracts import PartnerCall
from hub.domain import OrderLine, OrderRequest
from hub.hookspecs import hookimpl
from hub.outbox.store import OutboxStore
from hub.plugins import build_plugins
from hub.storage import migrate
from hub.storage.db import reader
from hub.wall import recount, snapshot
from tests.support import ADMIN, BOX, T0, TOMORROW, hub_of, order, put, seed, settings

BRIDGE = {"Authorization": "Bearer bridge-v1"}
AT = T0 + timedelta(days=1)  # 2026-11-23 10:00 at the venue: the tickets' travel day


class Confirmations:
    """Every confirmed order queues a partner call (so the outbox counters move)."""

    @hookimpl
    def order_confirmed(self, order: Any) -> list[PartnerCall]:
        return [
            PartnerCall(
                partner="boxoffice",
                kind="confirmed",
                dedupe_key=f"confirmed:{order.id}",
                payload={"order": order.id},
                order_id=order.id,
            )
        ]


async def wall_client(aiohttp_client: Any, db_url: str, clock: FixedClock) -> TestClient:
    app = create_app(
        settings(db_url, bridge_tokens={"v1": "bridge-v1"}),
        plugins=build_plugins(extra=[Confirmations()]),
        clock=clock,
    )
    client = await aiohttp_client(app)
    await seed(client)
    return client


def scan(rid: str, ticket: str, at: Any, gate: str = "north", **over: Any) -> dict[str, Any]:
    return {
        "id": rid,
        "ticket_id": ticket,
        "gate": gate,
        "direction": "in",
        "at": at.isoformat(),
        "accepted": True,
        **over,
    }


async def upload(client: TestClient, items: list[dict[str, Any]]) -> dict[str, Any]:
    resp = await client.post(
        "/api/bridge/venues/v1/redemptions",
        json={"bridge": "b1", "redemptions": items},
        headers=BRIDGE,
    )
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def sell(client: TestClient, key: str, quantity: int, slot: str) -> dict[str, Any]:
    status, body = await order(client, key, quantity=quantity, slot=slot, confirm=True)
    assert status == 201, body
    return body["order"]


async def kiosk(client: TestClient, key: str, quantity: int, **over: Any) -> Any:
    outcome = await hub_of(client).orders.place(
        OrderRequest(
            channel="kiosk",
            partner_order_id=key,
            lines=(OrderLine(product_id="adult", quantity=quantity),),
            travel_date=TOMORROW,
            slot="13:00-15:00",
            confirm=True,
            **over,
        )
    )
    assert outcome.ok, outcome.body
    return outcome.body["order"]


async def mixed_day(client: TestClient, clock: FixedClock) -> dict[str, Any]:
    """The sequence; returns the orders by name."""
    hub = hub_of(client)
    a = await sell(client, "a", 3, "09:00-11:00")
    b = await sell(client, "b", 2, "13:00-15:00")
    k1 = await kiosk(client, "k1", 2)
    k2 = await kiosk(client, "k2", 1)
    status, held = await order(client, "h1", quantity=2, slot="09:00-11:00")
    assert status == 201, held
    status, dropped = await order(client, "h2", quantity=1, slot="09:00-11:00")
    assert status == 201, dropped
    clock.advance(minutes=30)  # the late ones belong to the same sales day
    late = await hub.orders.confirm(held["order"]["id"])
    assert late.ok, late.body
    h1 = late.body["order"]
    assert (await hub.orders.cancel(dropped["order"]["id"])).ok  # a hold: nothing was sold
    resp = await client.post(
        f"/api/boxoffice/orders/{a['id']}/refund",
        json={"ticket_ids": [a["tickets"][2]["id"]]},
        headers=BOX,
    )
    assert resp.status == 200, await resp.text()
    assert (await hub.orders.cancel(k2["id"])).ok  # a sold order cancelled

    clock.set(AT)  # the travel day: the gates open
    t_a, t_b, t_k, t_h = a["tickets"], b["tickets"], k1["tickets"], h1["tickets"]
    first = await upload(
        client,
        [
            scan("s1", t_a[0]["id"], AT),
            scan("s2", t_a[1]["id"], AT + timedelta(minutes=2), gate="south"),
            scan("s3", t_b[0]["id"], AT + timedelta(minutes=7)),
            scan("s4", t_k[0]["id"], AT + timedelta(minutes=8), gate="south"),
            scan("s5", t_h[0]["id"], AT + timedelta(minutes=9), accepted=False, code="WRONG_SLOT"),
            scan("s6", "T-NOT-OURS", AT + timedelta(minutes=9)),
        ],
    )
    assert first["counted"] == 4 and first["conflicts"] == ["s6"]
    second = await upload(
        client,
        [
            scan("s7", t_a[0]["id"], AT + timedelta(minutes=21), gate="south"),  # double use
            scan("s8", t_a[0]["id"], AT + timedelta(minutes=40), direction="out"),
            scan("s9", t_b[1]["id"], AT + timedelta(minutes=41)),
            scan("s1", t_a[0]["id"], AT),  # a retry of a recorded one
        ],
    )
    assert second["counted"] == 2 and second["conflicts"] == ["s7"] and second["duplicates"] == 1

    resp = await client.post(
        "/api/admin/backfill",
        json={
            "venue_id": "v1",
            "product_id": "adult",
            "travel_date": TOMORROW.isoformat(),
            "slot": "13:00-15:00",
            "staff": "li",
            "tickets": [{"paper_no": "P-0001", "used_at": (AT + timedelta(minutes=3)).isoformat()}],
        },
        headers=ADMIN,
    )
    assert resp.status == 200, await resp.text()

    # partner calls: one delivered, one retried, one dead-lettered then replayed, one dead
    store, now = OutboxStore, clock.now()
    claimed = await store.claim(hub.engine, worker_id="w", limit=4, now=now, lease_seconds=60)
    assert len(claimed) == 4
    done, retry, dead, replayed = claimed
    assert await store.mark_done(hub.engine, done.id, worker_id="w", now=now)
    assert await store.mark_retry(hub.engine, retry.id, worker_id="w", error="x", next_at=now)
    assert await store.mark_dead(hub.engine, dead.id, worker_id="w", error="gone")
    assert await store.mark_dead(hub.engine, replayed.id, worker_id="w", error="gone")
    policy = hub.outbox.policy_for
    assert await store.retry_dead(hub.engine, [replayed.id], now=now, policy_for=policy) == 1
    return {"a": a, "b": b, "k1": k1, "k2": k2, "h1": h1}


async def test_counters_agree_with_a_recount(aiohttp_client: Any, db_url: str) -> None:
    clock = FixedClock(T0)
    client = await wall_client(aiohttp_client, db_url, clock)
    await mixed_day(client, clock)
    async with reader(hub_of(client).engine).connect() as conn:
        kept = await recount.counters(conn)
        counted = await recount.recount(conn)
    assert kept == counted
    # and the recount is not empty of what the sequence did
    day = TOMORROW
    sales = kept["flow_sales"]
    assert sales[("v1", T0.date(), "boxoffice")] == (3, 7, 70000, 1, 10000)
    assert sales[("v1", T0.date(), "kiosk")] == (2, 3, 30000, 1, 10000)
    assert sales[("v1", day, "paper")] == (1, 1, 10000, 0, 0)  # a sale at the product's price
    assert kept["flow_slot"][("v1", day, "09:00-11:00")] == (4, 2)
    assert kept["flow_slot"][("v1", day, "13:00-15:00")] == (5, 4)  # the paper ticket's slot
    gates = kept["flow_gate"]
    assert gates[("v1", day, 600, "north")] == (1, 0)
    assert gates[("v1", day, 600, "south")] == (1, 0)
    assert gates[("v1", day, 600, "")] == (1, 0)  # the paper ticket, no gate
    assert gates[("v1", day, 640, "north")] == (1, 1)
    assert kept["outbox_count"] == {("boxoffice", "pending"): (3,), ("boxoffice", "dead"): (1,)}


async def test_the_wall_shows_the_counters(aiohttp_client: Any, db_url: str) -> None:
    clock = FixedClock(T0)
    client = await wall_client(aiohttp_client, db_url, clock)
    await mixed_day(client, clock)
    await put(client, "/api/admin/venues/v1", {"name": "Test Mountain", "max_in_park": 50})
    clock.set(AT + timedelta(minutes=44))
    resp = await client.get("/api/admin/wall", params={"venue": "v1"}, headers=ADMIN)
    assert resp.status == 200, await resp.text()
    wall = await resp.json()
    assert wall["day"] == TOMORROW.isoformat()
    assert wall["in_park"] == {
        "now": 5,
        "maximum": 50,
        "percent": 10.0,
        "entries": 6,
        "exits": 1,
        "denied": 1,
    }
    assert wall["conflicts"] == 2
    assert [(p["time"], p["in_park"]) for p in wall["curve"]] == [
        ("10:00", 3),
        ("10:05", 5),
        ("10:10", 5),
        ("10:15", 5),
        ("10:20", 5),
        ("10:25", 5),
        ("10:30", 5),
        ("10:35", 5),
        ("10:40", 5),
    ]
    north = next(g for g in wall["gates"] if g["gate"] == "north")
    assert (north["entries"], north["exits"]) == (3, 1)
    assert [(s["slot"], s["sold"], s["arrived"], s["not_arrived"]) for s in wall["slots"]] == [
        ("09:00-11:00", 4, 2, 2),
        ("13:00-15:00", 5, 4, 1),
    ]
    # sales are those of the venue's day on the wall (the paper ticket entered today)
    assert wall["sales"]["channels"] == [
        {
            "channel": "paper",
            "orders": 1,
            "tickets": 1,
            "amount": 10000,
            "refunded_tickets": 0,
            "refunded_amount": 0,
        }
    ]
    assert wall["outbox"]["pending"] == 3 and wall["outbox"]["dead"] == 1
    # the bridge last called at 10:00, 44 minutes ago
    assert [(b["online"], b["seconds_since"]) for b in wall["bridges"]] == [(False, 2640.0)]

    for params, status in (({}, 400), ({"venue": "nowhere"}, 404)):
        resp = await client.get("/api/admin/wall", params=params, headers=ADMIN)
        assert resp.status == status
    resp = await client.get("/api/admin/wall", params={"venue": "v1"})
    assert resp.status == 401


async def test_the_migration_fills_the_counters_of_existing_rows(
    aiohttp_client: Any, db_url: str
) -> None:
    """A database that had orders, scans and partner calls before 0010: upgrading fills
    the counters from them (downgraded below 0010 and upgraded again here)."""
    clock = FixedClock(T0)
    client = await wall_client(aiohttp_client, db_url, clock)
    await mixed_day(client, clock)
    engine = hub_of(client).engine
    async with reader(engine).connect() as conn:
        kept = await recount.counters(conn)
    await migrate.downgrade(engine, "0009")
    await migrate.upgrade(engine)
    async with reader(engine).connect() as conn:
        assert await recount.counters(conn) == kept
    assert kept["flow_gate"] and kept["flow_slot"] and kept["flow_sales"] and kept["outbox_count"]


async def test_devices_come_from_the_device_source(aiohttp_client: Any, db_url: str) -> None:
    """The seam for per-device health: the wall lists what its device source gives (by
    default the venue's ``device_health`` rows, when the schema has that table)."""
    client = await wall_client(aiohttp_client, db_url, FixedClock(T0))

    async def reported(conn: Any, venue_id: str) -> list[dict[str, Any]]:
        return [{"device_id": f"{venue_id}-qr-1", "online": True}]

    async with reader(hub_of(client).engine).connect() as conn:
        built = await snapshot.build(conn, "v1", T0, devices=reported)
        assert built is not None and built["devices"] == [{"device_id": "v1-qr-1", "online": True}]
        default = await snapshot.build(conn, "v1", T0)
        assert default is not None and default["devices"] == []  # none reported
        assert await snapshot.build(conn, "nowhere", T0) is None

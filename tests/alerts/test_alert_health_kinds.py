"""The rule kinds that read health and payments (SQLite and PostgreSQL), each driven open
and clear: ``device_offline`` and ``bridge_clock_skew`` from what heartbeats report,
``payment_failures`` from the failures channels record, ``slot_arrival_rate`` from the
entries bridges upload. Time is the hub's FixedClock, moved by hand."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from hub.alerts.engine import Move
from hub.alerts.health import HeartbeatIn
from hub.clock import FixedClock
from tests.support import ADMIN, T0, hub_client, hub_of, order, seed

TOKEN = {"Authorization": "Bearer bridge-v1"}
AT = T0 + timedelta(days=1)  # 2026-11-23 10:00 in Shanghai: inside the 09:00-11:00 slot


async def _hub(aiohttp_client: Any, db_url: str, clock: FixedClock) -> TestClient:
    client = await hub_client(
        aiohttp_client, db_url, clock=clock, bridge_tokens={"v1": "bridge-v1"}, alert_eval_seconds=0
    )
    await seed(client)
    return client


async def _rule(
    client: TestClient, name: str, kind: str, params: dict[str, Any], **over: Any
) -> None:
    body = {"name": name, "kind": kind, "params": params, **over}
    resp = await client.post("/api/admin/alerts/rules", json=body, headers=ADMIN)
    assert resp.status == 201, await resp.text()


async def _moves(client: TestClient) -> list[tuple[str, str, float]]:
    moves: list[Move] = await hub_of(client).alerts.evaluate_now()
    return [(m.rule, m.transition, m.value) for m in moves]


async def _heartbeat(client: TestClient, at: datetime, **body: Any) -> dict[str, Any]:
    resp = await client.post(
        "/api/bridge/venues/v1/heartbeat",
        json={"bridge": "b1", "at": at.isoformat(), **body},
        headers=TOKEN,
    )
    assert resp.status == 200, await resp.text()
    return dict(await resp.json())


async def test_device_offline_and_bridge_clock_skew_from_heartbeats(
    aiohttp_client: Any, db_url: str
) -> None:
    clock = FixedClock(T0)
    client = await _hub(aiohttp_client, db_url, clock)
    await _rule(
        client,
        "turnstile 2",
        "device_offline",
        {"venue_id": "v1", "device_id": "t2"},
        open_at=120,
        clear_below=1,
    )
    await _rule(client, "clock", "bridge_clock_skew", {"venue_id": "v1"}, open_at=30, clear_below=5)
    assert await _moves(client) == []  # nothing reported yet: neither offline nor skewed

    def devices(t2_online: bool | None) -> list[dict[str, Any]]:
        return [
            {"id": "t1", "vendor": "loop", "gate": "n", "online": False},  # not this rule's
            {"id": "t2", "vendor": "loop", "gate": "n", "online": t2_online},
        ]

    answer = await _heartbeat(client, clock.now() - timedelta(seconds=45), devices=devices(None))
    assert answer["skew_s"] == 45.0
    assert await _moves(client) == [("clock", "opened", 45.0)]  # unknown is not offline
    await _heartbeat(client, clock.now(), devices=devices(False))
    clock.advance(seconds=119)
    await _heartbeat(client, clock.now(), devices=devices(False))  # still offline
    assert await _moves(client) == [("clock", "resolved", 0.0)]
    clock.advance(seconds=1)
    assert await _moves(client) == [("turnstile 2", "opened", 120.0)]
    # a heartbeat of a bridge that reports no devices (an older one) changes nothing
    await _heartbeat(client, clock.now())
    assert await _moves(client) == []
    await _heartbeat(client, clock.now(), devices=devices(True))
    assert await _moves(client) == [("turnstile 2", "resolved", 0.0)]


async def test_a_malformed_device_in_a_heartbeat_never_fails_the_heartbeat(
    aiohttp_client: Any, db_url: str
) -> None:
    clock = FixedClock(T0)
    client = await _hub(aiohttp_client, db_url, clock)
    huge = "x" * 5000
    await _heartbeat(
        client,
        clock.now(),
        devices=[
            {"id": "ok", "online": True, "last_error": huge, "last_seen": "not a time"},
            {"id": "", "online": False},  # no usable id: left out
            {"id": "y" * 65},
        ],
    )
    resp = await client.get("/api/admin/devices?venue=v1", headers=ADMIN)
    [device] = (await resp.json())["devices"]
    assert device["id"] == "ok" and device["last_seen"] is None
    assert device["last_error"] == "unreadable in the report: last_seen"


async def test_payment_failures_in_a_window(aiohttp_client: Any, db_url: str) -> None:
    clock = FixedClock(T0)
    client = await _hub(aiohttp_client, db_url, clock)
    payments = hub_of(client).alerts.payments
    await _rule(
        client,
        "pay",
        "payment_failures",
        {"provider": "wechat", "window_seconds": 300},
        open_at=3,
        clear_below=1,
    )
    await payments.record("wechat", "prepay", code="SYSTEMERROR", reference="T1")
    await payments.record("otherpay", "prepay")  # another provider: not counted
    clock.advance(seconds=100)
    await payments.record("wechat", "refund", code="HTTP_503", reference="R1")
    assert await _moves(client) == []
    await payments.record("wechat", "prepay", code="SYSTEMERROR", reference="T2")
    assert await _moves(client) == [("pay", "opened", 3.0)]
    clock.advance(seconds=201)  # the first one left the window
    assert await _moves(client) == []  # 2 is not below 1: hysteresis holds it open
    clock.advance(seconds=100)
    assert await _moves(client) == [("pay", "resolved", 0.0)]


async def test_slot_arrival_rate(aiohttp_client: Any, db_url: str) -> None:
    clock = FixedClock(T0)
    client = await _hub(aiohttp_client, db_url, clock)
    tickets: dict[str, list[str]] = {}
    for slot, n in (("09:00-11:00", 4), ("13:00-15:00", 3)):
        status, sold = await order(client, f"slot-{slot}", quantity=n, slot=slot, confirm=True)
        assert status == 201, sold
        tickets[slot] = [t["id"] for t in sold["order"]["tickets"]]
    await _rule(
        client,
        "morning rush",
        "slot_arrival_rate",
        {"venue_id": "v1", "slot": "09:00-11:00", "window_seconds": 120},
        open_at=1.5,
        clear_below=0.5,
    )
    clock.set(AT)

    async def arrive(ticket_ids: list[str], **over: Any) -> None:
        rows = [
            {
                "id": f"b1-{t}-{over.get('direction', 'in')}",
                "ticket_id": t,
                "gate": "north",
                "at": clock.now().isoformat(),
                "accepted": True,
                **over,
            }
            for t in ticket_ids
        ]
        resp = await client.post(
            "/api/bridge/venues/v1/redemptions",
            json={"bridge": "b1", "redemptions": rows},
            headers=TOKEN,
        )
        assert resp.status == 200, await resp.text()

    await arrive(tickets["13:00-15:00"])  # another slot's visitors: not counted
    await arrive(tickets["09:00-11:00"][:2])
    await arrive(tickets["09:00-11:00"][:2], direction="out")  # exits are not arrivals
    assert await _moves(client) == []  # 2 in 2 minutes: 1 a minute
    await arrive(tickets["09:00-11:00"][2:3])
    assert await _moves(client) == [("morning rush", "opened", 1.5)]
    clock.advance(seconds=121)
    assert await _moves(client) == [("morning rush", "resolved", 0.0)]


async def test_the_new_kinds_refuse_parameters_that_do_not_fit(
    aiohttp_client: Any, db_url: str
) -> None:
    client = await _hub(aiohttp_client, db_url, FixedClock(T0))
    for kind, params in (
        ("device_offline", {}),
        ("device_offline", {"venue_id": "v1", "gate": "n"}),
        ("bridge_clock_skew", {"venue_id": ""}),
        ("payment_failures", {"window_seconds": 10}),
        ("slot_arrival_rate", {"venue_id": "v1"}),
        ("slot_arrival_rate", {"venue_id": "v1", "slot": "09:00-11:00", "window_seconds": 7200}),
    ):
        body = {"name": "x", "kind": kind, "params": params, "open_at": 1, "clear_below": 0}
        resp = await client.post("/api/admin/alerts/rules", json=body, headers=ADMIN)
        assert resp.status == 422, (kind, params, await resp.text())
        assert kind in (await resp.json())["message"]


async def test_heartbeats_cost_a_write_only_when_they_say_something_new(
    aiohttp_client: Any, db_url: str
) -> None:
    clock = FixedClock(T0)
    client = await _hub(aiohttp_client, db_url, clock)
    health = hub_of(client).alerts.health

    def beat(online: bool, skew: float = 0.0, pending: int = 0) -> HeartbeatIn:
        return HeartbeatIn.model_validate(
            {
                "bridge": "b1",
                "at": (clock.now() - timedelta(seconds=skew)).isoformat(),
                "link": "http://hub",
                "link_index": 0,
                "pending_uploads": pending,
                "devices": [{"id": "t1", "online": online}],
            }
        )

    assert await health.report("v1", beat(True), clock.now())
    clock.advance(seconds=2)
    assert not await health.report("v1", beat(True, pending=7), clock.now())  # same story
    assert await health.report("v1", beat(False), clock.now())  # a device went offline
    assert not await health.report("v1", beat(False, skew=0.4), clock.now())
    assert await health.report("v1", beat(False, skew=3), clock.now())  # the clock moved
    clock.advance(seconds=5)
    assert await health.report("v1", beat(False, skew=3), clock.now())  # every 5 s anyway

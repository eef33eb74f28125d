"""An in-park alert from open to acknowledged to cleared, delivered to every sandbox
robot through the outbox: one opening message each, a reminder after the interval,
none after the acknowledgement, one clearing message (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

from tests.alerts.kit import (
    ADMIN,
    add_rule,
    alert_hub,
    drain,
    new_clock,
    receivers,
    set_in_park,
    venue,
    worker,
)
from tests.support import hub_of


def _texts(receiver: Any) -> list[str]:
    out = []
    for body in receiver.received:
        if "markdown" in body:
            out.append(body["markdown"].get("content") or body["markdown"].get("text"))
        elif "content" in body:
            out.append(body["content"]["text"])
        elif "text" in body and isinstance(body["text"], dict):
            out.append(body["text"]["content"])
        else:
            out.append(body["text"])
    return out


async def _evaluate(client: Any) -> list[dict[str, Any]]:
    r = await client.post("/api/admin/alerts/evaluate", headers=ADMIN)
    assert r.status == 200
    return list((await r.json())["moves"])


async def test_in_park_alert_open_remind_ack_clear(aiohttp_client: Any, db_url: str) -> None:
    clock = new_clock()
    async with receivers(clock) as robots:
        client = await alert_hub(aiohttp_client, db_url, clock, robots.destinations())
        hub = hub_of(client)
        await venue(client)
        await add_rule(client)
        w = worker(client)

        await set_in_park(hub, 899)  # 89.9 %: below the threshold
        assert await _evaluate(client) == []
        await set_in_park(hub, 900)  # 90 %: opens
        moves = await _evaluate(client)
        assert [m["transition"] for m in moves] == ["opened"]
        assert await _evaluate(client) == []  # still open: nothing more
        await drain(w)
        for name, robot in robots.all().items():
            assert len(robot.received) == 1, name
            assert "[告警] crowd" in _texts(robot)[0], name
            assert "900 / 1000" in _texts(robot)[0], name

        # hysteresis: 85 % is below the threshold but above the clearing level
        await set_in_park(hub, 850)
        clock.advance(seconds=599)
        assert await _evaluate(client) == []
        clock.advance(seconds=1)  # the reminder interval has passed, unacknowledged
        assert [m["transition"] for m in await _evaluate(client)] == ["reminder"]
        await drain(w)
        for name, robot in robots.all().items():
            assert len(robot.received) == 2, name
            assert "告警未确认" in _texts(robot)[1], name

        alert_id = moves[0]["alert_id"]
        r = await client.post(
            f"/api/admin/alerts/{alert_id}/ack",
            json={"by": "wang.li", "note": "extra staff sent to the east gate"},
            headers=ADMIN,
        )
        assert r.status == 200, await r.text()
        acked = await r.json()
        assert acked["state"] == "acknowledged" and acked["acked_by"] == "wang.li"
        assert acked["ack_note"] == "extra staff sent to the east gate"
        assert acked["acked_at"] == clock.now().isoformat()
        r = await client.post(
            f"/api/admin/alerts/{alert_id}/ack", json={"by": "x", "note": "y"}, headers=ADMIN
        )
        assert r.status == 409

        clock.advance(seconds=3600)  # long past the interval: acknowledged, no reminder
        assert await _evaluate(client) == []
        await drain(w)
        assert all(len(robot.received) == 2 for robot in robots.all().values())

        await set_in_park(hub, 800)  # 80 %: not below 80, still not cleared
        assert await _evaluate(client) == []
        await set_in_park(hub, 799)
        assert [m["transition"] for m in await _evaluate(client)] == ["resolved"]
        assert await _evaluate(client) == []
        await drain(w)
        for name, robot in robots.all().items():
            assert len(robot.received) == 3, name
            assert "[已恢复] crowd" in _texts(robot)[2], name
            assert robot.refused == [], name

        r = await client.get("/api/admin/alerts?state=resolved", headers=ADMIN)
        [alert] = (await r.json())["alerts"]
        assert alert["id"] == alert_id and alert["reminders"] == 1
        assert alert["resolved_at"] == clock.now().isoformat()

        # a new crossing after resolution is a new alert
        await set_in_park(hub, 950)
        again = await _evaluate(client)
        assert [m["transition"] for m in again] == ["opened"]
        assert again[0]["alert_id"] != alert_id

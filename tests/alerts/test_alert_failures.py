"""Receivers that fail or refuse: a 5xx or a rate limit is retried by the outbox until the
message lands exactly once; a wrong key or secret is refused by the sandbox (so the
signature really is checked) and the message is dead-lettered for a person, untried again."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from hub.storage.tables import OutboxRow
from tests.alerts.kit import (
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

OUTBOX = OutboxRow.__table__.c


async def _rows(client: Any, partner: str) -> list[Any]:
    async with hub_of(client).engine.connect() as conn:
        stmt = select(OUTBOX.state, OUTBOX.attempts, OUTBOX.last_error, OUTBOX.dedupe_key)
        return list((await conn.execute(stmt.where(OUTBOX.partner == partner))).all())


async def test_server_errors_are_retried_until_one_delivery(
    aiohttp_client: Any, db_url: str
) -> None:
    clock = new_clock()
    async with receivers(clock) as robots:
        client = await alert_hub(aiohttp_client, db_url, clock, robots.destinations())
        await venue(client)
        await add_rule(client, destinations=["ops-wecom", "ops-webhook"])
        robots.wecom.fail_next.extend([500, 502])
        robots.webhook.fail_next.append(503)
        await set_in_park(hub_of(client), 990)
        await hub_of(client).alerts.evaluate_now()
        w = worker(client)

        await drain(w)
        assert robots.wecom.received == [] and robots.webhook.received == []
        await drain(w)  # nothing is due again before the backoff
        assert robots.wecom.received == [] and robots.webhook.received == []
        for _ in range(10):
            clock.advance(seconds=15)
            await drain(w)
        assert len(robots.wecom.received) == 1
        assert len(robots.webhook.received) == 1
        assert not robots.wecom.fail_next and not robots.webhook.fail_next
        [(state, attempts, _, _)] = await _rows(client, "alert:ops-wecom")
        assert (state, attempts) == ("done", 3)
        [(state, attempts, _, _)] = await _rows(client, "alert:ops-webhook")
        assert (state, attempts) == ("done", 2)


async def test_rate_limited_robot_gets_each_message_once_later(
    aiohttp_client: Any, db_url: str
) -> None:
    clock = new_clock()
    async with receivers(clock, dingtalk=1) as robots:  # one message a minute
        client = await alert_hub(aiohttp_client, db_url, clock, robots.destinations())
        await venue(client)
        await add_rule(client, name="crowd-a", destinations=["ops-dingtalk"])
        await add_rule(client, name="crowd-b", destinations=["ops-dingtalk"])
        await set_in_park(hub_of(client), 990)
        moves = await hub_of(client).alerts.evaluate_now()
        assert [m.transition for m in moves] == ["opened", "opened"]
        w = worker(client)

        await drain(w)
        assert len(robots.dingtalk.received) == 1
        assert robots.dingtalk.refused == [
            {"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"}
        ]
        for _ in range(12):
            clock.advance(seconds=10)
            await drain(w)
        assert len(robots.dingtalk.received) == 2
        titles = sorted(b["markdown"]["title"] for b in robots.dingtalk.received)
        assert titles == ["[告警] crowd-a", "[告警] crowd-b"]
        rows = await _rows(client, "alert:ops-dingtalk")
        assert sorted(r.state for r in rows) == ["done", "done"]


async def test_wrong_secrets_are_refused_and_dead_lettered(
    aiohttp_client: Any, db_url: str
) -> None:
    clock = new_clock()
    async with receivers(clock) as robots:
        dest = robots.destinations(dingtalk="SECnot-the-secret", feishu="nope", webhook="nope")
        dest["ops-wecom"]["url"] = robots.wecom.url.replace("sandbox-key", "other-key")
        client = await alert_hub(aiohttp_client, db_url, clock, dest)
        await venue(client)
        await add_rule(client)
        await set_in_park(hub_of(client), 990)
        await hub_of(client).alerts.evaluate_now()
        w = worker(client)
        for _ in range(3):
            await drain(w)
            clock.advance(seconds=600)

        for robot in robots.all().values():
            assert robot.received == []
        assert robots.dingtalk.refused == [{"errcode": 310000, "errmsg": "sign not match"}]
        assert [r["code"] for r in robots.feishu.refused] == [19021]
        assert robots.webhook.refused == [{"error": "bad signature"}]
        assert robots.wecom.refused == [{"errcode": 93000, "errmsg": "invalid webhook url"}]
        for partner, said in (
            ("alert:ops-dingtalk", "dingtalk errcode 310000"),
            ("alert:ops-feishu", "feishu code 19021"),
            ("alert:ops-webhook", "webhook answered HTTP 401"),
            ("alert:ops-wecom", "wecom errcode 93000"),
        ):
            [(state, attempts, error, _)] = await _rows(client, partner)
            assert (state, attempts) == ("dead", 1), partner
            assert said in error, partner


async def test_old_timestamp_is_refused(aiohttp_client: Any, db_url: str) -> None:
    """The robots check the timestamp window too: a hub clock two hours behind theirs."""
    hub_clock, robot_clock = new_clock(), new_clock()
    robot_clock.advance(hours=2)
    async with receivers(robot_clock) as robots:
        client = await alert_hub(aiohttp_client, db_url, hub_clock, robots.destinations())
        await venue(client)
        await add_rule(client, destinations=["ops-dingtalk", "ops-feishu", "ops-webhook"])
        await set_in_park(hub_of(client), 990)
        await hub_of(client).alerts.evaluate_now()
        await drain(worker(client))
        assert [r["errcode"] for r in robots.dingtalk.refused] == [310000]
        assert [r["code"] for r in robots.feishu.refused] == [19021]
        assert robots.webhook.refused == [{"error": "bad signature"}]
        assert all(not r.received for r in robots.all().values())

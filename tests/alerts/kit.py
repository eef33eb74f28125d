"""Shared set-up of the alert tests: sandbox receivers on loopback, a hub whose
destinations point at them, in-park counters written as a bridge upload leaves them, and
an outbox worker the test turns by hand (time is a FixedClock: no real waits)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp.test_utils import TestClient
from sqlalchemy import delete

from hub.alerts.delivery import deliverer
from hub.api.app import Hub
from hub.clock import FixedClock
from hub.outbox import OutboxWorker
from hub.storage.tables import FlowCountRow
from sandbox.alerts import DingTalkRobot, FeishuBot, WebhookReceiver, WeComRobot
from tests.support import T0, hub_client, hub_of

ADMIN = {"Authorization": "Bearer test-admin"}
FLOW = FlowCountRow.__table__


@dataclass
class Receivers:
    wecom: WeComRobot
    dingtalk: DingTalkRobot
    feishu: FeishuBot
    webhook: WebhookReceiver

    def all(self) -> dict[str, Any]:
        return {
            "wecom": self.wecom,
            "dingtalk": self.dingtalk,
            "feishu": self.feishu,
            "webhook": self.webhook,
        }

    def destinations(self, **secrets: str) -> dict[str, dict[str, Any]]:
        """One destination per receiver (``secrets`` override the right ones, to test
        that a wrong secret is refused)."""
        return {
            "ops-wecom": {"sink": "wecom", "url": self.wecom.url},
            "ops-dingtalk": {
                "sink": "dingtalk",
                "url": self.dingtalk.url,
                "secret": secrets.get("dingtalk", self.dingtalk.secret),
            },
            "ops-feishu": {
                "sink": "feishu",
                "url": self.feishu.url,
                "secret": secrets.get("feishu", self.feishu.secret),
            },
            "ops-webhook": {
                "sink": "webhook",
                "url": self.webhook.url,
                "secret": secrets.get("webhook", self.webhook.secret),
            },
        }


@asynccontextmanager
async def receivers(clock: FixedClock, **per_minute: int) -> AsyncIterator[Receivers]:
    r = Receivers(
        WeComRobot(clock, per_minute=per_minute.get("wecom", 20)),
        DingTalkRobot(clock, per_minute=per_minute.get("dingtalk", 20)),
        FeishuBot(clock, per_minute=per_minute.get("feishu", 100)),
        WebhookReceiver(clock),
    )
    for one in r.all().values():
        await one.start()
    try:
        yield r
    finally:
        for one in r.all().values():
            await one.stop()


async def alert_hub(
    aiohttp_client: Any, db_url: str, clock: FixedClock, destinations: dict[str, Any]
) -> TestClient:
    return await hub_client(
        aiohttp_client,
        db_url,
        clock=clock,
        alert_destinations=destinations,
        alert_eval_seconds=0,  # the test evaluates by hand
    )


def new_clock() -> FixedClock:
    return FixedClock(T0)


async def venue(client: TestClient, venue_id: str = "v1") -> None:
    r = await client.put(f"/api/admin/venues/{venue_id}", json={"name": "Mountain"}, headers=ADMIN)
    assert r.status in (200, 201), await r.text()


async def set_in_park(hub: Hub, inside: int, venue_id: str = "v1") -> None:
    """The flow counters as the bridge upload keeps them (entries - exits = inside)."""
    day = hub.clock.now().astimezone(ZoneInfo("Asia/Shanghai")).date()
    async with hub.engine.begin() as conn:
        await conn.execute(delete(FLOW).where(FLOW.c.venue_id == venue_id, FLOW.c.day == day))
        await conn.execute(
            FLOW.insert().values(venue_id=venue_id, day=day, entries=inside + 7, exits=7)
        )


async def add_rule(client: TestClient, **over: Any) -> dict[str, Any]:
    body = {
        "name": "crowd",
        "kind": "in_park_percent",
        "params": {"venue_id": "v1", "maximum": 1000},
        "open_at": 90,
        "clear_below": 80,
        "destinations": ["ops-wecom", "ops-dingtalk", "ops-feishu", "ops-webhook"],
        "remind_seconds": 600,
        **over,
    }
    r = await client.post("/api/admin/alerts/rules", json=body, headers=ADMIN)
    assert r.status == 201, await r.text()
    return dict(await r.json())


def worker(client: TestClient, name: str = "test-worker") -> OutboxWorker:
    """An outbox worker on the hub's destinations, turned by hand with `run_once`."""
    hub = hub_of(client)
    return OutboxWorker(
        hub.engine,
        deliverer=deliverer(hub.alerts.destinations, hub.plugins.channels.find),
        policy_for=hub.outbox.policy_for,
        clock=hub.clock,
        worker_id=name,
    )


async def drain(w: OutboxWorker) -> None:
    """Deliver everything due now."""
    while await w.run_once():
        pass

"""``bridge_offline``: the venue's bridge calls the hub (its change feed), goes quiet for
longer than the rule's seconds — the alert opens — and calls again — it resolves; the
WeCom sandbox gets one message each time (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

from tests.alerts.kit import ADMIN, add_rule, drain, new_clock, receivers, venue, worker
from tests.support import hub_client, hub_of

BRIDGE = {"Authorization": "Bearer bridge-v1"}


async def test_bridge_offline_opens_and_resolves(aiohttp_client: Any, db_url: str) -> None:
    clock = new_clock()
    async with receivers(clock) as robots:
        client = await hub_client(
            aiohttp_client,
            db_url,
            clock=clock,
            alert_destinations=robots.destinations(),
            alert_eval_seconds=0,
            bridge_tokens={"v1": "bridge-v1"},
        )
        hub = hub_of(client)
        await venue(client)
        await add_rule(
            client,
            name="bridge v1",
            kind="bridge_offline",
            params={"venue_id": "v1"},
            open_at=300,
            clear_below=60,
            destinations=["ops-wecom"],
        )
        w = worker(client)
        assert await hub.alerts.evaluate_now() == []  # never synced: not offline

        r = await client.get("/api/bridge/venues/v1/changes", headers=BRIDGE)
        assert r.status == 200
        clock.advance(seconds=299)
        assert await hub.alerts.evaluate_now() == []
        # a call with a wrong token is not the bridge
        r = await client.get("/api/bridge/venues/v1/changes", headers=ADMIN)
        assert r.status == 401
        clock.advance(seconds=1)
        [opened] = await hub.alerts.evaluate_now()
        assert opened.transition == "opened" and opened.value == 300
        await drain(w)
        assert len(robots.wecom.received) == 1
        assert "bridge of v1" in robots.wecom.received[0]["markdown"]["content"]

        r = await client.get("/api/bridge/venues/v1/changes", headers=BRIDGE)
        assert r.status == 200
        [resolved] = await hub.alerts.evaluate_now()
        assert resolved.transition == "resolved"
        await drain(w)
        assert len(robots.wecom.received) == 2

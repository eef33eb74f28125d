"""The ``dead_letters`` and ``double_use`` rule kinds read the outbox and the redemption
rows the hub keeps (SQLite and PostgreSQL): open at the threshold, clear below it, alert
messages' own dead letters not counted, conflicts outside the window not counted."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hub.storage.tables import OutboxRow, RedemptionRow
from tests.alerts.kit import add_rule, alert_hub, new_clock, receivers, venue
from tests.support import hub_of

OUTBOX = OutboxRow.__table__
REDEMPTION = RedemptionRow.__table__


async def _dead(hub: Any, key: str, partner: str) -> None:
    now = hub.clock.now()
    async with hub.engine.begin() as conn:
        await conn.execute(
            OUTBOX.insert().values(
                partner=partner,
                kind="x",
                dedupe_key=key,
                payload={},
                state="dead",
                attempts=3,
                created_at=now,
                next_attempt_at=now,
            )
        )


async def _conflict(hub: Any, rid: str, received_ago: float) -> None:
    at = hub.clock.now() - timedelta(seconds=received_ago)
    async with hub.engine.begin() as conn:
        await conn.execute(
            REDEMPTION.insert().values(
                id=rid,
                ticket_id="T1",
                venue_id="v1",
                gate="east",
                at=at,
                received_at=at,
                conflict="used_elsewhere",
            )
        )


async def test_dead_letters_and_double_use(aiohttp_client: Any, db_url: str) -> None:
    clock = new_clock()
    async with receivers(clock) as robots:
        client = await alert_hub(aiohttp_client, db_url, clock, robots.destinations())
        hub = hub_of(client)
        await venue(client)
        await add_rule(
            client,
            name="dead",
            kind="dead_letters",
            params={},
            open_at=2,
            clear_below=1,
            destinations=["ops-wecom"],
            remind_seconds=3600,
        )
        await add_rule(
            client,
            name="double",
            kind="double_use",
            params={"venue_id": "v1", "window_seconds": 600},
            open_at=2,
            clear_below=1,
            destinations=["ops-wecom"],
            remind_seconds=3600,
        )

        await _dead(hub, "a", "ctrip")
        await _dead(hub, "b", "alert:ops-wecom")  # an alert message's: not counted
        await _conflict(hub, "r1", received_ago=10)
        await _conflict(hub, "r2", received_ago=601)  # outside the window
        assert await hub.alerts.evaluate_now() == []

        await _dead(hub, "c", "meituan")
        await _conflict(hub, "r3", received_ago=0)
        moves = await hub.alerts.evaluate_now()
        assert sorted((m.rule, m.transition, m.value) for m in moves) == [
            ("dead", "opened", 2.0),
            ("double", "opened", 2.0),
        ]

        clock.advance(seconds=595)  # r1 leaves the window: 1 left, not below 1
        assert await hub.alerts.evaluate_now() == []
        clock.advance(seconds=10)  # r3 leaves too
        [move] = await hub.alerts.evaluate_now()
        assert (move.rule, move.transition, move.value) == ("double", "resolved", 0.0)

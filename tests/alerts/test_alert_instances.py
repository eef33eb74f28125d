"""Two hub applications on one database evaluate the same rule at the same moments: each
transition is won by one of them, so every receiver gets one message per transition
(SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from typing import Any

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


async def test_two_hubs_send_one_message_per_transition(aiohttp_client: Any, db_url: str) -> None:
    clock = new_clock()
    async with receivers(clock) as robots:
        dest = robots.destinations()
        first = await alert_hub(aiohttp_client, db_url, clock, dest)
        second = await alert_hub(aiohttp_client, db_url, clock, dest)
        hubs = [hub_of(first), hub_of(second)]
        assert hubs[0].engine is not hubs[1].engine
        await venue(first)
        await add_rule(first)
        workers = [worker(first, "w1"), worker(second, "w2")]

        async def round_() -> list[str]:
            results = await asyncio.gather(*(h.alerts.evaluate_now() for h in hubs * 2))
            await asyncio.gather(*(drain(w) for w in workers))
            return [m.transition for moves in results for m in moves]

        await set_in_park(hubs[0], 950)
        assert await round_() == ["opened"]
        clock.advance(seconds=600)
        assert await round_() == ["reminder"]
        await set_in_park(hubs[0], 100)
        assert await round_() == ["resolved"]
        assert await round_() == []
        for name, robot in robots.all().items():
            assert len(robot.received) == 3, name

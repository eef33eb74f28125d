"""Giving back what emergency allotments did not sell once their slot has ended, every
few minutes (``TICKETHUB_EMERGENCY_GIVEBACK_SECONDS``) and on staff's request.

Safe with several hub processes: each allotment shrinks by one conditional update
(only if its spare units are still spare), and only the process whose update took them
adds them to the common bucket."""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncEngine

from hub.catalog import CatalogService
from hub.clock import Clock
from hub.emergency.allotments import give_back_ended
from hub.inventory.admin import venues_of_pool
from hub.tasks import cancel_and_wait

log = logging.getLogger(__name__)


async def give_back_now(engine: AsyncEngine, catalog: CatalogService, clock: Clock) -> int:
    """Units given back to the common stock now."""
    zones: dict[str, ZoneInfo | None] = {}
    async with engine.begin() as conn:

        async def tz_of(pool: str) -> ZoneInfo | None:  # through the same connection
            if pool not in zones:
                venues = await venues_of_pool(conn, pool)
                zones[pool] = await catalog.tz(venues[0], conn=conn) if venues else None
            return zones[pool]

        return await give_back_ended(conn, clock.now(), tz_of)


class GiveBack:
    def __init__(self, engine: AsyncEngine, catalog: CatalogService, clock: Clock) -> None:
        self.engine = engine
        self.catalog = catalog
        self.clock = clock
        self._task: asyncio.Task[Any] | None = None

    def start(self, every: float) -> None:
        if every > 0:
            self._task = asyncio.create_task(self._run(every), name="emergency-giveback")

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)

    async def _run(self, every: float) -> None:
        while True:
            await asyncio.sleep(every)  # first after one period: starting adds no write
            try:
                given = await give_back_now(self.engine, self.catalog, self.clock)
                if given:
                    log.info("gave %d unsold emergency units back to the common stock", given)
            except Exception:
                log.exception("emergency give-back failed; will retry")

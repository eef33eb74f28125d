"""Gauges read from the database when ``/metrics`` is scraped, so every hub agrees.

A gauge a process sets from its own traffic is right only for that process: with three
hubs behind a balancer, the bridge's uploads land on one of them and the other two
report stale in-park numbers (or none). The database is the one truth they share, so the
in-park gauge and the outbox backlog are read from it — two small queries on indexed
columns, at most once per ``TICKETHUB_METRICS_DB_SECONDS`` per process, whatever the
number of scrapers.

- ``tickethub_in_park{venue}``: today's entries minus exits (the venue's own today, in
  its time zone, on the hub's clock), from ``flow_count``; 0 for a venue nobody entered.
- ``tickethub_outbox_backlog{partner,state}``: pending, inflight and dead calls.
- ``tickethub_reconcile_open_discrepancies{channel}``: discrepancies still ``open``, a
  count over ``ix_discrepancy_state`` (state, day) — open ones are few (people close them),
  however many were found over the years.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Callable
from datetime import timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.clock import Clock
from hub.metrics import IN_PARK, OUTBOX_BACKLOG, RECONCILE_OPEN
from hub.storage.db import reader
from hub.storage.reconcile_tables import DiscrepancyRow
from hub.storage.tables import FlowCountRow, OutboxRow, VenueRow

FLOW = FlowCountRow.__table__
VENUE = VenueRow.__table__
OUTBOX = OutboxRow.__table__
DISC = DiscrepancyRow.__table__
BACKLOG_STATES = ("pending", "inflight", "dead")


class DatabaseGauges:
    """Refreshes the database-backed gauges of one engine, at most once per ``ttl``."""

    def __init__(
        self,
        engine: AsyncEngine,
        clock: Clock,
        *,
        ttl: float = 5.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.ttl = ttl
        self._monotonic = monotonic
        self._read_at: float | None = None
        self._lock = asyncio.Lock()
        self._backlog_labels: set[tuple[str, str]] = set()
        self._open_channels: set[str] = set()

    async def refresh(self) -> None:
        async with self._lock:  # concurrent scrapes: one reads, the others wait for it
            now = self._monotonic()
            if self._read_at is not None and now - self._read_at < self.ttl:
                return
            await self._read()
            self._read_at = self._monotonic()

    async def _read(self) -> None:
        now = self.clock.now()
        # a venue's today is within a day of UTC's, whatever its zone
        utc_today = now.date()
        first, last = utc_today - timedelta(days=1), utc_today + timedelta(days=1)
        flows = (
            select(VENUE.c.id, VENUE.c.timezone, FLOW.c.day, FLOW.c.entries, FLOW.c.exits)
            .select_from(
                VENUE.outerjoin(
                    FLOW,
                    and_(FLOW.c.venue_id == VENUE.c.id, FLOW.c.day.between(first, last)),
                )
            )
            .order_by(VENUE.c.id)
        )
        backlog = (
            select(OUTBOX.c.partner, OUTBOX.c.state, func.count())
            .where(OUTBOX.c.state.in_(BACKLOG_STATES))
            .group_by(OUTBOX.c.partner, OUTBOX.c.state)
        )
        open_discrepancies = (
            select(DISC.c.channel, func.count())
            .where(DISC.c.state == "open")
            .group_by(DISC.c.channel)
        )
        async with reader(self.engine).connect() as conn:
            flow_rows = (await conn.execute(flows)).all()
            backlog_rows = (await conn.execute(backlog)).all()
            open_rows = (await conn.execute(open_discrepancies)).all()

        in_park: dict[str, int] = {}
        for venue_id, zone, day, entries, exits in flow_rows:
            in_park.setdefault(venue_id, 0)
            if day is not None and day == now.astimezone(_zone(zone)).date():
                in_park[venue_id] = max(0, int(entries) - int(exits))
        for venue_id, value in in_park.items():
            IN_PARK.labels(venue_id).set(value)

        counts = {(partner, state): int(n) for partner, state, n in backlog_rows}
        for labels in self._backlog_labels - counts.keys():
            OUTBOX_BACKLOG.labels(*labels).set(0)  # emptied since the last read
        for labels, n in counts.items():
            OUTBOX_BACKLOG.labels(*labels).set(n)
        self._backlog_labels |= counts.keys()

        per_channel = {str(channel): int(n) for channel, n in open_rows}
        for channel in self._open_channels - per_channel.keys():
            RECONCILE_OPEN.labels(channel).set(0)  # all acknowledged or resolved since
        for channel, n in per_channel.items():
            RECONCILE_OPEN.labels(channel).set(n)
        self._open_channels |= per_channel.keys()


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("Asia/Shanghai")  # the column's default


_BY_ENGINE: weakref.WeakKeyDictionary[AsyncEngine, DatabaseGauges] = weakref.WeakKeyDictionary()


def gauges_for(engine: AsyncEngine, clock: Clock, ttl: float) -> DatabaseGauges:
    """The engine's refresher (one per engine, so one per running application)."""
    found = _BY_ENGINE.get(engine)
    if found is None:
        found = _BY_ENGINE[engine] = DatabaseGauges(engine, clock, ttl=ttl)
    return found

"""When each venue's bridge was last heard from, for the ``bridge_offline`` rule.

Bridges poll the hub every few seconds; a write per poll would cost the order path on
SQLite (one writer). So each process writes a venue's time at most every
``EVERY_SECONDS`` (an upsert that only moves the time forward), and the rule's resolution
is that coarse — fine for "offline longer than N minutes"."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.storage.tables import BridgeSeenRow

SEEN = BridgeSeenRow.__table__
EVERY_SECONDS = 5.0


class BridgeSeen:
    """This process's writer of ``bridge_seen``."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._written: dict[str, datetime] = {}

    async def saw(self, venue_id: str, now: datetime) -> None:
        last = self._written.get(venue_id)
        if last is not None and now - last < timedelta(seconds=EVERY_SECONDS):
            return
        self._written[venue_id] = now
        async with self.engine.begin() as conn:
            insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
            stmt = insert(SEEN).values(venue_id=venue_id, last_seen_at=now)
            await conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=[SEEN.c.venue_id],
                    set_={"last_seen_at": stmt.excluded.last_seen_at},
                    where=SEEN.c.last_seen_at < stmt.excluded.last_seen_at,
                )
            )

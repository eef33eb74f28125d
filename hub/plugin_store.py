"""A small document store for plugins, namespaced by plugin and kind.

Plugins never open database connections of their own; what they need to remember
(an agency's profile, its API credentials, the nonces it has used) they keep here, as
JSON documents with an optional expiry. ``add`` is an atomic insert-if-absent, which is
what replay protection needs: two requests with one nonce cannot both be first.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hub.clock import Clock
from hub.storage.db import reader
from hub.storage.tables import PluginRecordRow

REC = PluginRecordRow.__table__
R = REC.c


class PluginStore:
    def __init__(self, engine: AsyncEngine, clock: Clock, plugin: str) -> None:
        self.engine = engine
        self.reads = reader(engine)
        self.clock = clock
        self.plugin = plugin

    def _live(self, now: datetime) -> Any:
        return or_(R.expires_at.is_(None), R.expires_at > now)

    async def get(self, kind: str, key: str) -> dict[str, Any] | None:
        async with self.reads.connect() as conn:
            return (
                await conn.execute(
                    select(R.doc).where(
                        R.plugin == self.plugin,
                        R.kind == kind,
                        R.key == key,
                        self._live(self.clock.now()),
                    )
                )
            ).scalar()

    async def put(
        self, kind: str, key: str, doc: dict[str, Any], *, ttl: timedelta | None = None
    ) -> None:
        """Create or replace."""
        now = self.clock.now()
        values = {"doc": doc, "updated_at": now, "expires_at": now + ttl if ttl else None}
        async with self.engine.begin() as conn:
            ins = _insert(conn).values(plugin=self.plugin, kind=kind, key=key, **values)
            await conn.execute(
                ins.on_conflict_do_update(index_elements=["plugin", "kind", "key"], set_=values)
            )

    async def add(
        self, kind: str, key: str, doc: dict[str, Any], *, ttl: timedelta | None = None
    ) -> bool:
        """Insert only if no live record has this key; True if this call inserted it."""
        now = self.clock.now()
        async with self.engine.begin() as conn:
            await conn.execute(
                delete(REC).where(
                    R.plugin == self.plugin, R.kind == kind, R.key == key, R.expires_at <= now
                )
            )
            ins = _insert(conn).values(
                plugin=self.plugin,
                kind=kind,
                key=key,
                doc=doc,
                updated_at=now,
                expires_at=now + ttl if ttl else None,
            )
            res = await conn.execute(
                ins.on_conflict_do_nothing(index_elements=["plugin", "kind", "key"]).returning(
                    R.key
                )
            )
            return res.first() is not None

    async def list(
        self, kind: str, *, prefix: str = "", limit: int = 1000
    ) -> list[tuple[str, dict[str, Any]]]:
        stmt = (
            select(R.key, R.doc)
            .where(R.plugin == self.plugin, R.kind == kind, self._live(self.clock.now()))
            .order_by(R.key)
            .limit(limit)
        )
        if prefix:
            stmt = stmt.where(R.key.startswith(prefix, autoescape=True))
        async with self.reads.connect() as conn:
            return [(k, d) for k, d in (await conn.execute(stmt)).all()]

    async def delete(self, kind: str, key: str) -> bool:
        async with self.engine.begin() as conn:
            res = await conn.execute(
                delete(REC).where(R.plugin == self.plugin, R.kind == kind, R.key == key)
            )
        return res.rowcount > 0

    async def purge_expired(self) -> int:
        async with self.engine.begin() as conn:
            res = await conn.execute(
                delete(REC).where(R.plugin == self.plugin, R.expires_at <= self.clock.now())
            )
        return res.rowcount


def _insert(conn: AsyncConnection) -> Any:
    return (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(REC)

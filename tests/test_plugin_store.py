"""The plugin document store, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from hub.clock import FixedClock
from hub.plugin_store import PluginStore
from hub.storage.db import create_all, create_engine
from tests.support import T0


async def test_documents_expiry_and_first_writer_wins(db_url: str) -> None:
    engine = create_engine(db_url)
    await create_all(engine)
    clock = FixedClock(T0)
    agency, other = PluginStore(engine, clock, "agency"), PluginStore(engine, clock, "other")
    try:
        await agency.put("profile", "a1", {"name": "Sunrise Travel"})
        await agency.put("profile", "a1", {"name": "Sunrise Travel Ltd"})
        await agency.put("profile", "b2", {"name": "Blue Sky"})
        assert await agency.get("profile", "a1") == {"name": "Sunrise Travel Ltd"}
        assert await other.get("profile", "a1") is None  # namespaced by plugin
        assert [k for k, _ in await agency.list("profile")] == ["a1", "b2"]
        assert [k for k, _ in await agency.list("profile", prefix="b")] == ["b2"]

        wins = await asyncio.gather(
            *(agency.add("nonce", "AK1:n-1", {}, ttl=timedelta(minutes=5)) for _ in range(12))
        )
        assert sorted(wins) == [False] * 11 + [True]
        clock.advance(minutes=6)
        assert await agency.get("nonce", "AK1:n-1") is None
        assert await agency.add("nonce", "AK1:n-1", {}, ttl=timedelta(minutes=5))  # expired
        clock.advance(minutes=6)
        assert await agency.purge_expired() == 1
        assert await agency.delete("profile", "b2")
        assert not await agency.delete("profile", "b2")
    finally:
        await engine.dispose()

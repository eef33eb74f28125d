"""pytest plugin (entry point ``pytest11``): fixtures for testing tickethub plugins."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hub.plugins import HubPlugins, build_plugins
from hub.testing.databases import fresh_pg_database


@pytest.fixture
def hub_plugins() -> HubPlugins:
    """The plugins installed in this environment, loaded as the hub loads them."""
    return build_plugins()


@pytest.fixture(params=["sqlite", "postgres"])
async def conformance_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """Each conformance check on SQLite and on PostgreSQL (skipped without a server,
    failed instead under ``TICKETHUB_REQUIRE_PG=1``)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'conformance.db'}"
        return
    async with fresh_pg_database() as url:
        yield url

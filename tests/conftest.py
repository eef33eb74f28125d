"""Shared fixtures: a fresh SQLite file or a fresh PostgreSQL database per test.

PostgreSQL tests skip with a clear reason when no server answers on 127.0.0.1:5432, unless
``TICKETHUB_REQUIRE_PG=1`` (CI), where they fail instead.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from hub.testing.databases import fresh_pg_database


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    """URL of a new, empty PostgreSQL database, dropped after the test."""
    async with fresh_pg_database() as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> Iterator[str]:
    yield f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"


@pytest.fixture(params=["sqlite", "postgres"])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """Both databases: every storage test runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"
        return
    async with fresh_pg_database() as url:
        yield url

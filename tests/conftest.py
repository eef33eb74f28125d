"""Shared fixtures: a SQLite file or a PostgreSQL database per test.

``db_url`` (both databases) is at the schema head, copied from a template migrated once
per process (`hub.testing.databases.SchemaTemplates`); ``pg_url`` and ``sqlite_url`` are
EMPTY, for tests of the migrations themselves.

PostgreSQL tests skip with a clear reason when no server answers on 127.0.0.1:5432, unless
``TICKETHUB_REQUIRE_PG=1`` (CI), where they fail instead.

The suite runs in parallel (``make test``: pytest-xdist, ``--dist loadgroup``), so a test
uses ``tmp_path``, port 0 and unique names (databases, MQTT topics), never a fixed port or
a shared file. Tests marked ``slow`` (they spawn several hub processes) are put in one
``xdist_group``: they run one at a time on one worker, so two bursts of processes never
compete for the cores and PostgreSQL's connections at once. That chain is the floor of the
suite's wall time, so a slow test that starts no burst of hubs — one process after another,
as the demo and the plugin-template test do — names a group of its own
(``@pytest.mark.xdist_group("demo")``) and runs beside the chain.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from hub.testing.databases import SchemaTemplates, fresh_pg_database

# The UHPPOTE driver listens on 0.0.0.0:60001 unless told otherwise: in tests, a port of
# the kernel's choosing, so bridges in parallel tests (and suites) never fight over it.
os.environ.setdefault("TICKETHUB_UHPPOTE_LISTEN", "127.0.0.1:0")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        # A slow test that names its own group (one long chain of single processes, no
        # burst of hubs) keeps it: the `processes` chain runs one test after another on
        # one worker, so everything in it adds to the suite's wall time.
        if item.get_closest_marker("slow") is not None and (
            item.get_closest_marker("xdist_group") is None
        ):
            item.add_marker(pytest.mark.xdist_group("processes"))


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    """URL of a new, empty PostgreSQL database, dropped after the test."""
    async with fresh_pg_database() as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> Iterator[str]:
    """URL of a SQLite file that does not exist yet (an empty database)."""
    yield f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"


@pytest.fixture(params=["sqlite", "postgres"])
async def db_url(
    request: pytest.FixtureRequest, tmp_path: Path, schema_templates: SchemaTemplates
) -> AsyncIterator[str]:
    """Both databases: every storage test runs on SQLite and on PostgreSQL. The database
    is at the schema head and holds no rows."""
    if request.param == "sqlite":
        yield await schema_templates.sqlite_url(tmp_path / "hub.db")
        return
    async with schema_templates.postgres() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
async def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """Both databases, EMPTY (no schema): for tests about getting to the head, which
    `db_url` (already there) cannot serve."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"
        return
    async with fresh_pg_database() as url:
        yield url

"""pytest plugin (entry point ``pytest11``): fixtures for testing tickethub plugins.

A test session is a development run: `pytest_configure` sets ``TICKETHUB_DEV=1`` (see
`hub.devmode`), so hubs and bridges built by tests — in process, or as subprocesses that
inherit the environment — start with the development secrets instead of refusing.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from hub.devmode import DEV_ENV
from hub.plugins import HubPlugins, build_plugins
from hub.testing.databases import SchemaTemplates


def pytest_configure(config: pytest.Config) -> None:
    os.environ[DEV_ENV] = "1"


@pytest.fixture
def hub_plugins() -> HubPlugins:
    """The plugins installed in this environment, loaded as the hub loads them."""
    return build_plugins()


@pytest.fixture(scope="session")
def schema_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SchemaTemplates]:
    """This process's migrated templates (one per pytest-xdist worker): databases at the
    schema head for the price of a copy. Dropped when the session ends."""
    templates = SchemaTemplates(tmp_path_factory.mktemp("schema-templates"))
    yield templates
    asyncio.run(templates.close())


@pytest.fixture(params=["sqlite", "postgres"])
async def conformance_db_url(
    request: pytest.FixtureRequest, tmp_path: Path, schema_templates: SchemaTemplates
) -> AsyncIterator[str]:
    """Each conformance check on SQLite and on PostgreSQL (skipped without a server,
    failed instead under ``TICKETHUB_REQUIRE_PG=1``), at the schema head."""
    if request.param == "sqlite":
        yield await schema_templates.sqlite_url(tmp_path / "conformance.db")
        return
    async with schema_templates.postgres() as url:
        yield url

"""Browser fixtures of the console tests: Debian's chromium driven by Playwright, and a hub
on port 0 with the seeded staff accounts of `tests.console.kit`.

The launcher (Debian's chromium by its path, nothing downloaded, skipped or failed with
the reason) is `tests.browser`, shared with the bridge's handheld-page tests.
Screenshots go to ``$TICKETHUB_ARTIFACTS/console`` (default ``var/artifacts/console`` in
the repository, ignored by git).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from hub.api.app import HUB, Hub, create_app
from hub.clock import FixedClock
from hub.console.staff import StaffService
from hub.testing.databases import SchemaTemplates
from tests.browser import artifacts_dir, chromium
from tests.console.kit import seed_staff
from tests.support import T0, settings


@pytest.fixture(autouse=True)
def cheap_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2 at its smallest: the default costs 64 MiB and ~0.1 s a hash by design, which
    over dozens of sign-ins on two shared cores is minutes of nothing."""
    from argon2 import PasswordHasher

    from hub.console import staff

    monkeypatch.setattr(
        staff, "default_hasher", lambda: PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    )


@pytest.fixture
def artifacts() -> Path:
    """Where tests write screenshots (kept after the run, for people to look at)."""
    return artifacts_dir("console")


@pytest.fixture
async def browser() -> AsyncIterator[object]:
    """A headless chromium (Playwright's `Browser`), or a skip saying why there is none."""
    async with chromium() as launched:
        yield launched


@dataclass
class LiveHub:
    url: str
    hub: Hub
    clock: FixedClock


@pytest.fixture
async def console_hub(tmp_path: Path, schema_templates: SchemaTemplates) -> AsyncIterator[LiveHub]:
    """A hub listening on 127.0.0.1, port 0, on SQLite, with the seeded staff accounts."""
    db_url = await schema_templates.sqlite_url(tmp_path / "console.db")
    clock = FixedClock(T0)
    app = create_app(settings(db_url), clock=clock)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    try:
        hub = app[HUB]
        await seed_staff(StaffService(hub.engine, clock))
        yield LiveHub(str(server.make_url("/console/")), hub, clock)
    finally:
        await server.close()

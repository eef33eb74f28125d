"""A hub starting on a database already at head does not run Alembic.

``serve`` (and every test's hub) calls ``migrate.upgrade`` at start-up; Alembic loading
all revision files to find nothing to do cost about a tenth of a second per start. At
head, one read of ``alembic_version`` (under the schema lock) answers; below head, the
upgrade runs as before.
"""

from __future__ import annotations

from typing import Any

import pytest

from hub.storage import migrate


async def test_upgrade_at_head_does_not_run_alembic(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("Alembic ran on a database already at head")

    monkeypatch.setattr(migrate.command, "upgrade", refuse)
    await migrate.upgrade(db_url)
    assert await migrate.current(db_url) == migrate.head_revision()


async def test_upgrade_below_head_still_migrates(db_url: str) -> None:
    await migrate.downgrade(db_url, "-1")
    assert await migrate.current(db_url) != migrate.head_revision()
    await migrate.upgrade(db_url)
    assert await migrate.current(db_url) == migrate.head_revision()


async def test_upgrade_to_a_named_revision_is_not_short_cut(empty_db_url: str) -> None:
    await migrate.upgrade(empty_db_url, "0001")
    assert await migrate.current(empty_db_url) == "0001"

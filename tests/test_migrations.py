"""The migrations ARE the schema: upgrading to head must give exactly `METADATA`.

A table or column added to `hub.storage.tables` without a migration fails
`test_head_matches_metadata`, on both databases. Add a revision with
``.venv/bin/python -m hub.storage.migrate new MESSAGE`` (see hub/storage/migrations/README.md).
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from hub.storage import migrate
from hub.storage.db import create_admin_engine
from hub.storage.tables import METADATA

pytestmark = pytest.mark.timeout(60)


def _diff(conn: Connection) -> list[Any]:
    ctx = MigrationContext.configure(conn, opts={"compare_type": True})
    return compare_metadata(ctx, METADATA)


def _tables(conn: Connection) -> set[str]:
    return set(inspect(conn).get_table_names())


async def _run_sync(url: str, fn: Any) -> Any:
    engine = create_admin_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(fn)
    finally:
        await engine.dispose()


async def test_head_matches_metadata(empty_db_url: str) -> None:
    await migrate.upgrade(empty_db_url)
    assert await migrate.current(empty_db_url) == migrate.head_revision()
    assert await _run_sync(empty_db_url, _diff) == []
    assert await _run_sync(empty_db_url, _tables) == set(METADATA.tables) | {"alembic_version"}


async def test_upgrade_twice_is_a_noop(empty_db_url: str) -> None:
    await migrate.upgrade(empty_db_url)
    await migrate.upgrade(empty_db_url)
    assert await migrate.current(empty_db_url) == migrate.head_revision()


async def test_downgrade_to_base_leaves_no_tables(empty_db_url: str) -> None:
    await migrate.upgrade(empty_db_url)
    await migrate.downgrade(empty_db_url, "base")
    # Alembic keeps its (now empty) version table; every table of ours is gone.
    assert await _run_sync(empty_db_url, _tables) <= {"alembic_version"}
    assert await migrate.current(empty_db_url) is None
    await migrate.upgrade(empty_db_url)  # and the way back up still works
    assert await _run_sync(empty_db_url, _diff) == []


async def test_shared_engine_is_left_open(sqlite_url: str) -> None:
    """`serve` passes its own engine; migrating must not dispose it."""
    engine = create_admin_engine(sqlite_url)
    try:
        await migrate.upgrade(engine)
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM venue"))).scalar_one() == 0
    finally:
        await engine.dispose()


async def test_empty_database_has_no_revision(sqlite_url: str) -> None:
    assert await migrate.current(sqlite_url) is None


async def test_concurrent_upgrades_on_postgres(pg_url: str) -> None:
    """Two engines upgrading one database at once both succeed, leaving one schema."""
    engines = [create_admin_engine(pg_url) for _ in range(2)]
    try:
        await asyncio.gather(*(migrate.upgrade(e) for e in engines))
        assert await migrate.current(engines[0]) == migrate.head_revision()
        async with engines[1].connect() as conn:
            assert await conn.run_sync(_diff) == []
            rows = (await conn.execute(text("SELECT count(*) FROM alembic_version"))).scalar()
            assert rows == 1
    finally:
        for engine in engines:
            await engine.dispose()


async def test_concurrent_upgrades_of_two_databases_in_one_process(tmp_path: Path) -> None:
    """Alembic's `context`/`op` are process-global; interleaved migrations must not mix."""
    urls = [f"sqlite+aiosqlite:///{tmp_path / f'{i}.db'}" for i in range(3)]
    await asyncio.gather(*(migrate.upgrade(url) for url in urls))
    for url in urls:
        assert await _run_sync(url, _diff) == []


# Each child process opens its migration transaction, says "ready" and waits for "go": the
# parent lets them all loose at once, the worst case of hubs starting together. The wait
# sits where the advisory lock is taken, so `locked=False` shows what the lock prevents.
_CHILD = """
import asyncio, sys
from hub.storage import migrate
locked = sys.argv[2] == "1"
real_lock, waited = migrate.lock_schema, []
def lock_schema(conn):
    if not waited:
        waited.append(True)
        print("ready", flush=True)
        sys.stdin.readline()
    if locked:
        real_lock(conn)
migrate.lock_schema = lock_schema
asyncio.run(migrate.upgrade(sys.argv[1]))
"""


async def _upgrade_in_processes(url: str, n: int, *, locked: bool) -> list[tuple[int, str]]:
    """Exit code and stderr of `n` processes upgrading `url` at the same instant."""
    procs = [
        await asyncio.create_subprocess_exec(
            *(sys.executable, "-c", _CHILD, url, "1" if locked else "0"),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(n)
    ]
    try:
        for proc in procs:  # every child is inside its transaction, at the lock
            assert proc.stdout is not None and proc.stderr is not None
            line = await asyncio.wait_for(proc.stdout.readline(), 60)
            if line != b"ready\n":
                pytest.fail(f"child did not start: {(await proc.stderr.read()).decode()[-2000:]}")
        outputs = await asyncio.gather(*(p.communicate(b"go\n") for p in procs))
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    return [
        (proc.returncode or 0, err.decode(errors="replace"))
        for proc, (_, err) in zip(procs, outputs, strict=True)
    ]


@pytest.mark.postgres
async def test_hub_processes_starting_together_upgrade_once(pg_url: str) -> None:
    results = await _upgrade_in_processes(pg_url, 3, locked=True)
    assert [code for code, _ in results] == [0, 0, 0], [err[-2000:] for _, err in results]
    assert await migrate.current(pg_url) == migrate.head_revision()
    assert await _run_sync(pg_url, _diff) == []


@pytest.mark.postgres
async def test_control_without_the_lock_processes_collide(pg_url: str) -> None:
    """Proves the test above can fail: with the advisory lock off, the same start races
    (one process creates the tables, the others die on the duplicates)."""
    results = await _upgrade_in_processes(pg_url, 3, locked=False)
    failed = [err for code, err in results if code != 0]
    assert 0 < len(failed) < len(results), [err[-2000:] for _, err in results]
    for err in failed:
        assert "UniqueViolation" in err or "already exists" in err, err[-2000:]


def test_revisions_import_cleanly() -> None:
    """Generated revisions must import without the application (custom types rendered as
    plain SQLAlchemy, `sqlmodel` imported by the template)."""
    files = sorted(migrate.VERSIONS.glob("*.py"))
    assert files, "no revision in hub/storage/migrations/versions"
    for path in files:
        spec = importlib.util.spec_from_file_location(f"_rev_{path.stem}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        assert callable(module.upgrade) and callable(module.downgrade)


def test_db_cli_upgrade_current_downgrade(sqlite_url: str) -> None:
    from typer.testing import CliRunner

    from hub.cli import app

    runner = CliRunner(env={"COLUMNS": "200"})
    head = migrate.head_revision()
    assert head is not None

    result = runner.invoke(app, ["db", "upgrade", "--database-url", sqlite_url])
    assert result.exit_code == 0, result.output
    assert f"upgraded to {head} (head)" in result.stdout

    result = runner.invoke(app, ["db", "current", "--database-url", sqlite_url])
    assert result.exit_code == 0 and f"{head} (head)" in result.stdout, result.output

    # Destructive: asks first, and "no" changes nothing.
    result = runner.invoke(
        app, ["db", "downgrade", "base", "--database-url", sqlite_url], input="n\n"
    )
    assert result.exit_code == 1
    assert asyncio.run(migrate.current(sqlite_url)) == head

    result = runner.invoke(app, ["db", "downgrade", "base", "--yes", "--database-url", sqlite_url])
    assert result.exit_code == 0 and "downgraded to none" in result.stdout, result.output

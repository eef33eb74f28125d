"""Schema migrations (Alembic), callable from a running event loop.

The hub's ``serve`` upgrades the database at start-up, inside its own event loop, so the
API here is async and hands Alembic ONE shared connection (``cfg.attributes["connection"]``)
instead of letting Alembic's env.py open an engine and call ``asyncio.run`` itself.

Everything is located from this file, never from the current directory, so an installed
wheel migrates exactly like a checkout.

Several hub processes may start at once against one PostgreSQL database. Every migration
first takes a transaction-scoped advisory lock (`lock_schema`; env.py takes it too, for
Alembic's own command line), so the first process upgrades and the others wait, then find
the schema at head and do nothing. On SQLite the engine begins every transaction with
``BEGIN IMMEDIATE`` (see `hub.storage.db`), which serializes writers already.

Developer commands (this phase keeps ONE initial revision, see migrations/README.md)::

    .venv/bin/python -m hub.storage.migrate regenerate   # rewrite 0001 from METADATA
    .venv/bin/python -m hub.storage.migrate new "add x"  # after the first release
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.storage.db import create_admin_engine

if TYPE_CHECKING:
    from hub.storage.sealed import IdNumbers

T = TypeVar("T")

HERE = Path(__file__).resolve().parent
ALEMBIC_INI = HERE / "alembic.ini"
MIGRATIONS = HERE / "migrations"
VERSIONS = MIGRATIONS / "versions"
INITIAL_REVISION = "0001"
INITIAL_MESSAGE = "initial schema"

# Key of the PostgreSQL advisory lock held while migrating: b"tickethu" as a signed
# bigint. Constant across versions and processes, so every hub contends on the same lock.
MIGRATION_LOCK_KEY = int.from_bytes(b"tickethu", "big", signed=True)


def alembic_config(
    connection: Connection | None = None, id_numbers: IdNumbers | None = None
) -> Config:
    """The Alembic config of the packaged ``alembic.ini``, optionally bound to a connection.

    :param connection: a sync connection (from ``AsyncConnection.run_sync``) that env.py
        migrates on, inside the caller's transaction.
    :param id_numbers: the keys revisions that seal ID numbers use (0002); without them,
        those revisions read the settings.
    """
    cfg = Config(str(ALEMBIC_INI))
    if connection is not None:
        cfg.attributes["connection"] = connection
    if id_numbers is not None:
        cfg.attributes["id_numbers"] = id_numbers
    return cfg


def lock_schema(connection: Connection) -> None:
    """Serialize migrations across processes (PostgreSQL only).

    The lock is transaction-scoped, so it is released by the commit that publishes the new
    schema (or by a rollback) and can never be leaked by a crashed process.
    """
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})


def _process_lock() -> asyncio.Lock:
    """One migration at a time per event loop.

    Alembic's ``context`` and ``op`` are module-level proxies, so two migrations
    interleaved in one process (``asyncio.gather``) would overwrite each other's state.
    Keyed by loop because an `asyncio.Lock` must not outlive or cross its loop.
    """
    loop = asyncio.get_running_loop()
    lock = _LOCKS.get(loop)
    if lock is None:
        lock = _LOCKS[loop] = asyncio.Lock()
    return lock


_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


async def _in_transaction(
    engine_or_url: AsyncEngine | str, fn: Callable[[Connection], T], *, migrating: bool
) -> T:
    """Run `fn` on a sync connection inside one transaction; dispose engines we created.

    When `migrating`, the database lock (advisory lock, or SQLite's BEGIN IMMEDIATE) is
    taken BEFORE the in-process lock, so whoever holds the process lock already owns its
    database and can never wait on a coroutine queued behind it.
    """
    owned = isinstance(engine_or_url, str)
    engine = create_admin_engine(engine_or_url) if isinstance(engine_or_url, str) else engine_or_url
    try:
        async with engine.begin() as conn:
            if not migrating:
                return await conn.run_sync(fn)
            await conn.run_sync(lock_schema)
            async with _process_lock():
                return await conn.run_sync(fn)
    finally:
        if owned:
            await engine.dispose()


async def upgrade(
    engine_or_url: AsyncEngine | str,
    revision: str = "head",
    *,
    id_numbers: IdNumbers | None = None,
) -> None:
    """Upgrade the schema to `revision` in one transaction; a no-op when already there.

    :param engine_or_url: the hub's engine (left open) or a URL (a private engine is
        created and disposed).
    :param revision: target revision, ``head`` by default.
    :param id_numbers: the keys that seal ID numbers (the hub's); default: from settings.
    """

    def _upgrade(conn: Connection) -> None:
        # Checked under the schema lock: a hub that waited for another one's migration
        # finds the schema at head here and has nothing to do.
        if revision == "head" and _at_head(conn):
            return
        command.upgrade(alembic_config(conn, id_numbers), revision)

    await _in_transaction(engine_or_url, _upgrade, migrating=True)


def _at_head(conn: Connection) -> bool:
    """Whether the database already is at every head: then ``upgrade head`` is a no-op,
    and reading one row spares Alembic loading every revision file (a tenth of a second
    per hub start — once per test in the suite)."""
    heads = _shipped_heads()
    return bool(heads) and set(MigrationContext.configure(conn).get_current_heads()) == heads


def _shipped_heads() -> frozenset[str]:
    """The heads of the revisions shipped in this package; read once per state of the
    versions folder (a revision added or edited changes its modification time)."""
    try:
        key = (
            VERSIONS.stat().st_mtime_ns,
            max(p.stat().st_mtime_ns for p in VERSIONS.glob("*.py")),
        )
    except (OSError, ValueError):
        key = None
    cached = _HEADS.get("key")
    if key is None or cached is None or cached[0] != key:
        heads = frozenset(ScriptDirectory.from_config(alembic_config()).get_heads())
        if key is None:
            return heads
        _HEADS["key"] = (key, heads)
        return heads
    return cached[1]


_HEADS: dict[str, tuple[tuple[int, int], frozenset[str]]] = {}


async def downgrade(
    engine_or_url: AsyncEngine | str, revision: str, *, id_numbers: IdNumbers | None = None
) -> None:
    """Downgrade the schema to `revision` (``base`` drops every table, data included).

    :param engine_or_url: as for `upgrade`.
    :param revision: target revision, e.g. ``base`` or ``-1``.
    :param id_numbers: as for `upgrade` (below 0002, ID numbers are opened back).
    """
    await _in_transaction(
        engine_or_url,
        lambda c: command.downgrade(alembic_config(c, id_numbers), revision),
        migrating=True,
    )


async def current(engine_or_url: AsyncEngine | str) -> str | None:
    """The revision the database is at, or None for an empty (never migrated) database.

    :param engine_or_url: as for `upgrade`.
    """
    return await _in_transaction(
        engine_or_url,
        lambda c: MigrationContext.configure(c).get_current_revision(),
        migrating=False,
    )


def head_revision() -> str | None:
    """The newest revision shipped in this package (what `upgrade` reaches by default)."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


# -- developer tooling ------------------------------------------------------------------


def _autogenerate(message: str, rev_id: str | None, *, upgrade_first: bool) -> Path:
    """Autogenerate a revision by diffing METADATA against a scratch SQLite database.

    A scratch database (empty, or upgraded to head) is the one thing a diff can be
    trusted against; a developer's own database may be in any state.
    """
    before = set(VERSIONS.glob("*.py"))

    def _revision(conn: Connection) -> None:
        cfg = alembic_config(conn)
        if upgrade_first:
            command.upgrade(cfg, "head")
        command.revision(cfg, message=message, autogenerate=True, rev_id=rev_id)

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'scratch.db'}"
        asyncio.run(_in_transaction(url, _revision, migrating=True))
    (created,) = set(VERSIONS.glob("*.py")) - before
    return created


def regenerate_initial() -> Path:
    """Rewrite the ONE initial revision from the current METADATA (pre-release only).

    Refuses once a second revision exists: from then on the schema history is real and
    changes go into new revisions (`new_revision`).
    """
    VERSIONS.mkdir(parents=True, exist_ok=True)
    existing = sorted(VERSIONS.glob("*.py"))
    later = [p.name for p in existing if not p.name.startswith(f"{INITIAL_REVISION}_")]
    if later:
        raise SystemExit(
            f"refusing to regenerate: later revisions exist ({', '.join(later)}); "
            "add a new revision instead (python -m hub.storage.migrate new MESSAGE)"
        )
    for path in existing:
        path.unlink()
    shutil.rmtree(VERSIONS / "__pycache__", ignore_errors=True)
    return _autogenerate(INITIAL_MESSAGE, INITIAL_REVISION, upgrade_first=False)


def new_revision(message: str) -> Path:
    """Autogenerate the next revision (after the first release): head → METADATA."""
    return _autogenerate(message, None, upgrade_first=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m hub.storage.migrate", description="tickethub migration tooling"
    )
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("regenerate", help="rewrite the initial revision from METADATA")
    new = sub.add_parser("new", help="autogenerate the next revision")
    new.add_argument("message")
    args = parser.parse_args(argv)
    path = regenerate_initial() if args.cmd == "regenerate" else new_revision(args.message)
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()

"""Throw-away databases for tests: a SQLite file or a fresh PostgreSQL database.

Shipped in the package so third-party plugins (and the conformance kit) test on both
databases exactly as tickethub's own suite does. PostgreSQL tests skip with a clear reason
when no server answers, unless ``TICKETHUB_REQUIRE_PG=1`` (CI), where they fail instead.

Two kinds: `fresh_pg_database` is EMPTY (for tests of the migrations themselves), and
`SchemaTemplates` hands out databases already at the schema head, copied from a template
migrated once per process — what almost every test wants, without paying Alembic and the
DDL again for each one (about 0.25 s per PostgreSQL database, 0.05 s per SQLite file).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import uuid
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

PG_HOST = os.environ.get("TICKETHUB_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("TICKETHUB_PG_PORT", "5432"))
PG_USER = os.environ.get("TICKETHUB_PG_USER", "postgres")


def pg_reachable() -> bool:
    try:
        with socket.create_connection((PG_HOST, PG_PORT), timeout=1):
            return True
    except OSError:
        return False


def require_pg() -> None:
    """Skip (or, under ``TICKETHUB_REQUIRE_PG=1``, fail) when PostgreSQL is not there."""
    if pg_reachable():
        return
    reason = f"PostgreSQL not reachable on {PG_HOST}:{PG_PORT}"
    if os.environ.get("TICKETHUB_REQUIRE_PG") == "1":
        pytest.fail(f"{reason} and TICKETHUB_REQUIRE_PG=1")
    pytest.skip(reason)


async def pg_admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database="postgres")
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def pg_url_of(name: str) -> str:
    return f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"


@asynccontextmanager
async def fresh_pg_database() -> AsyncIterator[str]:
    """URL of a new, empty PostgreSQL database, dropped afterwards."""
    require_pg()
    name = f"tickethub_test_{uuid.uuid4().hex[:12]}"
    await pg_admin(f'CREATE DATABASE "{name}"')
    try:
        yield pg_url_of(name)
    finally:
        await pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# What a test could change in a database besides its rows: relations and their columns,
# constraints, types, functions, and the schema revision. A database handed back with a
# different fingerprint from its template's is dropped, not reused.
_FINGERPRINT = """
SELECT md5(concat_ws('#',
  (SELECT string_agg(n.nspname || '.' || c.relname || ':' || c.relkind::text || ':' || coalesce(
      (SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
                         || ' ' || a.attnotnull::text, ',' ORDER BY a.attnum)
         FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped),
      ''), '|' ORDER BY n.nspname, c.relname)
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
      AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'),
  (SELECT string_agg(k.conrelid::regclass::text || '.' || conname || ':'
                     || pg_get_constraintdef(k.oid), '|'
                     ORDER BY k.conrelid::regclass::text, conname)
     FROM pg_constraint k JOIN pg_namespace n ON n.oid = k.connamespace
    WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')),
  (SELECT string_agg(t.typname, ',' ORDER BY t.typname)
     FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = 'public'),
  (SELECT string_agg(p.proname, ',' ORDER BY p.proname)
     FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'),
  (SELECT string_agg(version_num, ',') FROM alembic_version)))
"""

_USER_TABLES = """
SELECT format('%I.%I', schemaname, tablename) FROM pg_tables
 WHERE schemaname NOT IN ('pg_catalog', 'information_schema')
   AND schemaname NOT LIKE 'pg_temp%' AND tablename <> 'alembic_version'
"""


class SchemaTemplates:
    """Databases at the schema head, made from templates migrated once by this process.

    SQLite: a template file in `workdir`, copied per test. PostgreSQL: a template
    database (``tickethub_template_<random>``) cloned with ``CREATE DATABASE … TEMPLATE``
    — and a clone, once its test is over, is emptied and handed to the next test instead
    of dropped: ``DROP DATABASE`` waits for a checkpoint (0.1 s quiet, 1–2 s when the
    server is busy, and every test process queues on the same checkpointer), emptying
    takes a few DELETEs. Emptying happens when the database is taken again, once the
    previous test's hub has certainly stopped: leftover connections are ended, every
    table's rows deleted, sequences restarted; a database whose schema the test changed
    (see `_FINGERPRINT`) is dropped instead. The templates are made with
    `hub.storage.migrate`, exactly what a hub runs at start (which then finds the copy
    at head and does nothing).

    One instance per process: pytest-xdist workers each have their own, so no worker
    waits on another's template and a template is never open while cloned. `close`
    drops every PostgreSQL database it made.
    """

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self._sqlite: Path | None = None
        self._pg: str | None = None
        self._pg_fingerprint = ""
        self._pg_returned: list[str] = []
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    def _lock(self) -> asyncio.Lock:
        # Tests each run on their own event loop; a lock must not cross loops.
        loop = asyncio.get_running_loop()
        return self._locks.setdefault(loop, asyncio.Lock())

    async def sqlite_url(self, path: Path) -> str:
        """A SQLite database at head in the new file `path`; its URL."""
        from hub.storage import migrate

        async with self._lock():
            if self._sqlite is None:
                template = self.workdir / f"template-{uuid.uuid4().hex[:8]}.db"
                # A URL, not an engine: the connection closes, the WAL is checkpointed
                # into the file and removed, so the file alone is the whole database.
                await migrate.upgrade(f"sqlite+aiosqlite:///{template}")
                self._sqlite = template
        shutil.copyfile(self._sqlite, path)
        return f"sqlite+aiosqlite:///{path}"

    @asynccontextmanager
    async def postgres(self) -> AsyncIterator[str]:
        """A PostgreSQL database at head with no rows, for the block (skipped, or failed
        under ``TICKETHUB_REQUIRE_PG=1``, without a server)."""
        require_pg()
        async with self._lock():
            name = await self._take_pg()
        try:
            yield pg_url_of(name)
        finally:
            self._pg_returned.append(name)

    async def _take_pg(self) -> str:
        template = await self._pg_template()
        while self._pg_returned:
            name = self._pg_returned.pop()
            if await self._emptied(name):
                return name
            await pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        name = f"tickethub_test_{uuid.uuid4().hex[:12]}"
        await pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return name

    async def _emptied(self, name: str) -> bool:
        """Empty a returned database for reuse; False when it cannot be (schema changed)."""
        import asyncpg

        try:
            conn = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database=name)
        except (OSError, asyncpg.PostgresError):
            return False
        try:
            await conn.execute(
                "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity"
                " WHERE datname = $1 AND pid <> pg_backend_pid()",
                name,
            )
            if await conn.fetchval(_FINGERPRINT) != self._pg_fingerprint:
                return False
            tables = [row[0] for row in await conn.fetch(_USER_TABLES)]
            async with conn.transaction():
                # No foreign-key triggers while emptying: any order will do.
                await conn.execute("SET LOCAL session_replication_role = replica")
                for table in tables:
                    await conn.execute(f"DELETE FROM {table}")
                await conn.execute(
                    "SELECT setval(format('%I.%I', schemaname, sequencename)::regclass,"
                    " start_value, false) FROM pg_sequences"
                    " WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
                )
            return True
        except asyncpg.PostgresError:
            return False
        finally:
            await conn.close()

    async def _pg_template(self) -> str:
        import asyncpg

        from hub.storage import migrate

        if self._pg is None:
            name = f"tickethub_template_{uuid.uuid4().hex[:12]}"
            await pg_admin(f'CREATE DATABASE "{name}"')
            try:
                await migrate.upgrade(pg_url_of(name))
                conn = await asyncpg.connect(
                    host=PG_HOST, port=PG_PORT, user=PG_USER, database=name
                )
                try:
                    self._pg_fingerprint = await conn.fetchval(_FINGERPRINT)
                finally:
                    await conn.close()
            except BaseException:
                await pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                raise
            self._pg = name
        return self._pg

    async def close(self) -> None:
        """Drop the PostgreSQL template and every database made from it."""
        names, self._pg_returned = self._pg_returned, []
        if self._pg is not None:
            names.append(self._pg)
            self._pg = None
        await asyncio.gather(
            *(pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)') for name in names)
        )

"""The async engine: SQLite (aiosqlite) for one process, PostgreSQL (asyncpg) for many.

SQLite is set up for a single durable writer: WAL journal, ``synchronous=FULL`` (a
committed order survives power loss), and ``BEGIN IMMEDIATE`` so a write transaction takes
the write lock up front instead of failing half way with SQLITE_BUSY.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from hub import jsonutil
from hub.config import ConfigError
from hub.storage.tables import METADATA

READ_ONLY = "tickethub_read_only"


def reader(engine: AsyncEngine) -> AsyncEngine:
    """The same engine (and pool) for read-only work: on SQLite its transactions are
    DEFERRED, so reads never queue behind, or hold up, the writer."""
    return engine.execution_options(**{READ_ONLY: True})


# What people write → the async driver the hub runs on.
_DRIVERS = {
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
}


class DatabaseUnavailable(ConfigError):
    """The database the configuration names cannot be used (unreachable, missing,
    refused our login)."""


def shown(url: str | URL) -> str:
    """A URL fit for a log line or an error message: never the password."""
    parsed = make_url(url) if isinstance(url, str) else url
    return parsed.render_as_string(hide_password=True)


def database_url(url: str) -> str:
    """The URL with the driver the hub runs on: ``postgresql://`` (and ``postgres://``)
    mean asyncpg, ``sqlite://`` aiosqlite; anything else is a `ConfigError`."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(
            f"TICKETHUB_DATABASE_URL {url!r} is not a database URL "
            "(postgresql://user@host/db or sqlite+aiosqlite:///path)"
        ) from None
    driver = _DRIVERS.get(parsed.drivername)
    if driver is None:
        raise ConfigError(
            f"unsupported database URL {shown(parsed)!r}: tickethub runs on PostgreSQL "
            "(postgresql://user@host/db, driver asyncpg) or SQLite (sqlite+aiosqlite:///path)"
        )
    return parsed.set(drivername=driver).render_as_string(hide_password=False)


def is_sqlite(url: str) -> bool:
    return make_url(database_url(url)).get_backend_name() == "sqlite"


def _sqlite_folder(parsed: URL) -> None:
    if parsed.database and parsed.database != ":memory:":
        folder = Path(parsed.database).parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"cannot create the folder {str(folder)!r} of the SQLite database "
                f"({exc.strerror or type(exc).__name__})"
            ) from None


def create_engine(url: str, *, pool_size: int = 10, echo: bool = False) -> AsyncEngine:
    url = database_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        _sqlite_folder(parsed)
        engine = create_async_engine(
            url,
            echo=echo,
            json_serializer=jsonutil.dumps,
            json_deserializer=jsonutil.loads,
            connect_args={"timeout": 30},
            pool_size=pool_size,
            max_overflow=0,
        )
        _sqlite_pragmas(engine)
        return engine
    return create_async_engine(
        url,
        echo=echo,
        json_serializer=jsonutil.dumps,
        json_deserializer=jsonutil.loads,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
    )


def create_admin_engine(url: str) -> AsyncEngine:
    """An engine without pooling, for one-off work (migrations, CLI commands)."""
    url = database_url(url)
    engine = create_async_engine(url, poolclass=NullPool)
    if is_sqlite(url):
        _sqlite_folder(make_url(url))
        _sqlite_pragmas(engine)
    return engine


async def probe(engine: AsyncEngine) -> None:
    """Connect once and run ``SELECT 1``: the mistakes people make (server down, wrong
    host, database not created, login refused) become one `DatabaseUnavailable` line that
    names the database, before anything else starts."""
    where = shown(engine.url)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except DBAPIError as exc:
        reason = " ".join(str(exc.orig or exc).split())
        cause = exc.orig.__cause__ if exc.orig is not None else None
        if type(cause).__name__ == "InvalidCatalogNameError":
            name = engine.url.database
            raise DatabaseUnavailable(
                f"database {name!r} does not exist on {_server(engine.url)} "
                f"(create it: createdb {name}; or fix TICKETHUB_DATABASE_URL)"
            ) from None
        raise DatabaseUnavailable(f"cannot use the database {where}: {reason}") from None
    except (OSError, TimeoutError) as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise DatabaseUnavailable(
            f"cannot reach the database server {_server(engine.url)} ({reason}); "
            f"is it running, and is TICKETHUB_DATABASE_URL ({where}) right?"
        ) from None


def _server(url: URL) -> str:
    if url.get_backend_name() == "sqlite":
        return f"SQLite file {url.database!r}"
    return f"{url.host or 'localhost'}:{url.port or 5432}"


def _sqlite_pragmas(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let us issue BEGIN ourselves (pysqlite's implicit BEGIN is DEFERRED).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Readers must not take the write lock: a read transaction waiting on the event
        # loop would hold up every writer behind it.
        read = conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read else "BEGIN IMMEDIATE")


async def create_all(engine: AsyncEngine) -> None:
    """Create the schema directly (tests); deployments use `tickethub db upgrade`."""
    async with engine.begin() as conn:
        await conn.run_sync(METADATA.create_all)

"""The async engine: SQLite (aiosqlite) for one process, PostgreSQL (asyncpg) for many.

SQLite is set up for a single durable writer: WAL journal, ``synchronous=FULL`` (a
committed order survives power loss), and ``BEGIN IMMEDIATE`` so a write transaction takes
the write lock up front instead of failing half way with SQLITE_BUSY.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from hub import jsonutil
from hub.storage.tables import METADATA

READ_ONLY = "tickethub_read_only"


def reader(engine: AsyncEngine) -> AsyncEngine:
    """The same engine (and pool) for read-only work: on SQLite its transactions are
    DEFERRED, so reads never queue behind, or hold up, the writer."""
    return engine.execution_options(**{READ_ONLY: True})


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str, *, pool_size: int = 10, echo: bool = False) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
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
    engine = create_async_engine(url, poolclass=NullPool)
    if is_sqlite(url):
        _sqlite_pragmas(engine)
    return engine


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

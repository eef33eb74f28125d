"""Alembic environment of tickethub.

Two ways in:

* from the hub (`hub.storage.migrate`, `tickethub db`, ``serve`` at start-up): the caller
  passes a sync connection in ``config.attributes["connection"]``, already inside a
  transaction of an async engine, and we migrate on it. No event loop is started here,
  so this works from inside a running loop, and the caller's logging is left alone.
* from Alembic's own command line (``alembic -c hub/storage/alembic.ini ...``): we build
  the engine ourselves from ``-x database_url=URL``, ``sqlalchemy.url`` or
  TICKETHUB_DATABASE_URL.

Either way the migration runs under `hub.storage.migrate.lock_schema`, so concurrent hub
processes on one PostgreSQL database upgrade one after the other.
"""

from __future__ import annotations

import asyncio
from logging.config import fileConfig
from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import types
from sqlalchemy.engine import Connection

from hub.storage.db import create_admin_engine
from hub.storage.migrate import lock_schema
from hub.storage.tables import METADATA

config = context.config
target_metadata = METADATA


def render_item(kind: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Render our own TypeDecorators as the plain SQLAlchemy type they store.

    `hub.storage.tables.AwareDateTime` only adds Python-side behaviour (UTC conversion); the
    schema is its ``impl``, ``DateTime(timezone=True)``. Rendering the impl keeps revisions
    importable without importing application code, which may change after the revision.
    """
    if (
        kind == "type"
        and isinstance(obj, types.TypeDecorator)
        and type(obj).__module__.startswith("hub.")
    ):
        return f"sa.{obj.impl!r}"
    return False


CONFIGURE: dict[str, Any] = {
    "target_metadata": target_metadata,
    # Always batch, not only when generating against SQLite: one revision runs on both
    # databases, and batch mode is a plain ALTER on PostgreSQL but the only ALTER that
    # works on SQLite.
    "render_as_batch": True,
    "compare_type": True,
    "render_item": render_item,
}


def _database_url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("database_url")
    url = url or config.get_main_option("sqlalchemy.url")
    if not url:
        from hub.settings import Settings

        url = Settings().database_url
    return url


def run_on_connection(connection: Connection) -> None:
    context.configure(connection=connection, **CONFIGURE)
    lock_schema(connection)
    with context.begin_transaction():
        context.run_migrations()


def run_offline() -> None:
    """``alembic upgrade --sql``: write the SQL instead of running it."""
    context.configure(url=_database_url(), literal_binds=True, **CONFIGURE)
    with context.begin_transaction():
        context.run_migrations()


async def run_from_command_line() -> None:
    engine = create_admin_engine(_database_url())
    try:
        async with engine.begin() as conn:
            await conn.run_sync(run_on_connection)
    finally:
        await engine.dispose()


shared: Connection | None = config.attributes.get("connection")
if shared is not None:
    run_on_connection(shared)
else:
    if config.config_file_name is not None:
        fileConfig(config.config_file_name, disable_existing_loggers=False)
    if context.is_offline_mode():
        run_offline()
    else:
        asyncio.run(run_from_command_line())

"""What a plugin's CLI command (``add_cli_commands``) reaches: commands run in their own
process, without a running hub, so they open the database from the settings themselves —
through `command_services`, never through the hub's storage modules."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from hub.contracts import Accounts, Store
    from hub.domain import Order


class OrderReader:
    """Orders read straight from the database (a command changes none)."""

    def __init__(self, engine: AsyncEngine) -> None:
        from hub.settings import Settings
        from hub.storage.db import reader

        self._reads = reader(engine)
        self._ids = Settings().id_numbers()

    async def get(self, order_id: str) -> Order | None:
        from hub.orders import records

        async with self._reads.connect() as conn:
            return await records.load_order(conn, ids=self._ids, order_id=order_id)


@dataclass(frozen=True, slots=True)
class CommandServices:
    """The services one command uses: B2B accounts, the plugin's own store, orders."""

    accounts: Accounts
    store: Store
    orders: OrderReader


@asynccontextmanager
async def command_services(
    namespace: str, database_url: str | None = None
) -> AsyncIterator[CommandServices]:
    """The services on the hub's database (``database_url``, default the settings'),
    with ``namespace``'s plugin store; the connection pool is closed on leaving."""
    from hub.accounts import AccountService
    from hub.clock import SystemClock
    from hub.plugin_store import PluginStore
    from hub.settings import Settings
    from hub.storage.db import create_engine

    engine = create_engine(database_url or Settings().database_url)
    clock = SystemClock()
    try:
        yield CommandServices(
            accounts=AccountService(engine, clock),
            store=PluginStore(engine, clock, namespace),
            orders=OrderReader(engine),
        )
    finally:
        await engine.dispose()


__all__ = ["CommandServices", "OrderReader", "command_services"]

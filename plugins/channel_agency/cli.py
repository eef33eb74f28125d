"""``tickethub agency …``: statements and the no-show run, from the database directly
(commands run in their own process, without a running hub)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any, TypeVar

import typer

T = TypeVar("T")
app = typer.Typer(help="Travel agencies: statements and no-shows.", no_args_is_help=True)


async def _with_services(work: Callable[[Any, Any, Any], Awaitable[T]], url: str | None) -> T:
    from hub.accounts import AccountService
    from hub.clock import SystemClock
    from hub.plugin_store import PluginStore
    from hub.settings import Settings
    from hub.storage.db import create_engine

    engine = create_engine(url or Settings().database_url)
    clock = SystemClock()
    try:
        return await work(
            engine, AccountService(engine, clock), PluginStore(engine, clock, "agency")
        )
    finally:
        await engine.dispose()


@app.command("statement")
def statement(
    agency: str = typer.Argument(..., help="agency id"),
    date_from: str = typer.Option(..., "--from", help="first day, YYYY-MM-DD"),
    date_to: str = typer.Option(..., "--to", help="last day (inclusive), YYYY-MM-DD"),
    as_csv: bool = typer.Option(False, "--csv", help="CSV instead of JSON"),
    database_url: str | None = typer.Option(None, "--database-url"),
) -> None:
    """Orders, refunds, ledger movements and balances of one agency for a period."""
    from plugins.channel_agency import statements

    try:
        first, last = date.fromisoformat(date_from), date.fromisoformat(date_to)
    except ValueError as exc:
        raise typer.BadParameter("dates are YYYY-MM-DD") from exc

    async def work(_engine: Any, accounts: Any, store: Any) -> dict[str, Any]:
        if await store.get("profile", agency) is None:
            raise typer.BadParameter(f"no agency {agency}")
        return await statements.statement(accounts, store, agency, first, last)

    doc = asyncio.run(_with_services(work, database_url))
    typer.echo(statements.to_csv(doc) if as_csv else json.dumps(doc, indent=2, ensure_ascii=False))


@app.command("noshows")
def noshows(
    today: str | None = typer.Option(None, help="count trips before this day (default today)"),
    database_url: str | None = typer.Option(None, "--database-url"),
) -> None:
    """Count no-shows per agency and apply each agency's policy (warn / suspend)."""
    from hub.orders import records
    from hub.settings import Settings
    from hub.storage.db import reader
    from plugins.channel_agency import noshow

    day = date.fromisoformat(today) if today else date.today()

    class _Orders:
        def __init__(self, engine: Any) -> None:
            self.reads = reader(engine)
            self.ids = Settings().id_numbers()

        async def get(self, order_id: str) -> Any:
            async with self.reads.connect() as conn:
                return await records.load_order(conn, ids=self.ids, order_id=order_id)

    class _Agencies:
        def __init__(self, accounts: Any, store: Any) -> None:
            self.accounts, self.store = accounts, store

        async def set_status(self, agency_id: str, status: str) -> None:
            await self.accounts.set_status(f"agency:{agency_id}", status)
            doc = await self.store.get("profile", agency_id)
            await self.store.put("profile", agency_id, {**doc, "status": status})

    async def work(engine: Any, accounts: Any, store: Any) -> list[dict[str, Any]]:
        return await noshow.run(_Orders(engine), _Agencies(accounts, store), day)

    for line in asyncio.run(_with_services(work, database_url)):
        typer.echo(json.dumps(line))

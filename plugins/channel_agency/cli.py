"""``tickethub agency …``: statements and the no-show run, from the database directly
(commands run in their own process, without a running hub)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import date
from typing import TYPE_CHECKING, Any, TypeVar

import typer

if TYPE_CHECKING:
    from hub.sdk.commands import CommandServices

T = TypeVar("T")
app = typer.Typer(help="Travel agencies: statements and no-shows.", no_args_is_help=True)


async def _with_services(work: Callable[[CommandServices], Awaitable[T]], url: str | None) -> T:
    from hub.sdk.commands import command_services

    async with command_services("agency", url) as services:
        return await work(services)


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

    async def work(services: CommandServices) -> dict[str, Any]:
        if await services.store.get("profile", agency) is None:
            raise typer.BadParameter(f"no agency {agency}")
        return await statements.statement(services.accounts, services.store, agency, first, last)

    doc = asyncio.run(_with_services(work, database_url))
    typer.echo(statements.to_csv(doc) if as_csv else json.dumps(doc, indent=2, ensure_ascii=False))


@app.command("noshows")
def noshows(
    today: str | None = typer.Option(None, help="count trips before this day (default today)"),
    database_url: str | None = typer.Option(None, "--database-url"),
) -> None:
    """Count no-shows per agency and apply each agency's policy (warn / suspend)."""
    from plugins.channel_agency import noshow

    day = date.fromisoformat(today) if today else date.today()

    class _Agencies:
        def __init__(self, accounts: Any, store: Any) -> None:
            self.accounts, self.store = accounts, store

        async def set_status(self, agency_id: str, status: str) -> None:
            await self.accounts.set_status(f"agency:{agency_id}", status)
            doc = await self.store.get("profile", agency_id)
            await self.store.put("profile", agency_id, {**doc, "status": status})

    async def work(services: CommandServices) -> list[dict[str, Any]]:
        return await noshow.run(services.orders, _Agencies(services.accounts, services.store), day)

    for line in asyncio.run(_with_services(work, database_url)):
        typer.echo(json.dumps(line))

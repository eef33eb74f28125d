"""``tickethub report``: the day report (per venue, channel, product and slot) from the
hub's database, as a table, CSV or XLSX — see `hub.reconcile.report` for what each
column counts."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from hub.cli.errors import fail
from hub.cli.options import DatabaseUrl
from hub.cli.options import database_url as _url
from hub.cli.options import parse_day as _day
from hub.process import run_async
from hub.reconcile.export import COLUMNS, to_csv, to_xlsx
from hub.reconcile.report import DayReport, UnknownVenue, day_report
from hub.storage.db import create_admin_engine

app = typer.Typer(no_args_is_help=True, help="Reports from the hub's books.")


@app.callback()
def _group() -> None:
    """Reports from the hub's books (keeps `report` a group of subcommands)."""


async def _load(url: str, day: date, venue: str | None) -> DayReport:
    engine = create_admin_engine(url)
    try:
        async with engine.connect() as conn:
            return await day_report(conn, day, venue)
    finally:
        await engine.dispose()


@app.command("daily")
def daily(
    day: Annotated[str, typer.Option("--date", help="the venue-local day, YYYY-MM-DD")],
    venue: Annotated[str | None, typer.Option(help="one venue (default: all)")] = None,
    as_csv: Annotated[bool, typer.Option("--csv", help="CSV on stdout (or --output)")] = False,
    as_xlsx: Annotated[bool, typer.Option("--xlsx", help="XLSX to --output")] = False,
    output: Annotated[Path | None, typer.Option(help="write the file here")] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """What each channel sold, refunded and let in on one day; money in yuan."""
    if as_csv and as_xlsx:
        raise typer.BadParameter("--csv or --xlsx, not both")
    if as_xlsx and output is None:
        raise typer.BadParameter("--xlsx needs --output FILE (a workbook is not text)")
    try:
        report = run_async(_load(_url(database_url), _day(day), venue))
    except UnknownVenue:
        raise fail(f"unknown venue {venue!r}") from None
    if as_csv or as_xlsx:
        data = to_xlsx(report) if as_xlsx else to_csv(report)
        if output is None:
            sys.stdout.buffer.write(data)
        else:
            output.write_bytes(data)
            typer.echo(f"wrote {output} ({len(report.rows)} rows)")
        return
    table = Table(title=f"Day report {report.day.isoformat()}", header_style="bold")
    for column in COLUMNS:
        table.add_column(column, justify="right" if column not in COLUMNS[:4] else "left")
    for r in report.rows:
        d = r.as_dict()
        table.add_row(*(str(d[c]) for c in COLUMNS))
    totals = report.totals()
    table.add_row("TOTAL", "", "", "", *(str(totals[c]) for c in COLUMNS[4:]), style="bold")
    console = Console()
    (console if console.is_terminal else Console(width=200)).print(table)

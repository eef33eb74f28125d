"""``tickethub drill outage``: the outage drill on a hub and bridge of its own.

Found by the hub's CLI through the ``tickethub.commands`` entry point ``drill`` (see
pyproject.toml): the hub never imports the sandbox."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Annotated

import typer

drill_app = typer.Typer(help="Rehearse incidents against the sandbox.", no_args_is_help=True)


@drill_app.command("outage")
def outage(
    json_: Annotated[
        bool, typer.Option("--json", help="print the result as one JSON line")
    ] = False,
    db: Annotated[Path, typer.Option(help="SQLite file, removed and created afresh")] = Path(
        "var/drill.db"
    ),
    database_url: Annotated[
        str,
        typer.Option(
            help="run the hub on this EMPTY database instead (e.g. a fresh PostgreSQL one)"
        ),
    ] = "",
) -> None:
    """Cut the venue bridge off the hub, sell 20 emergency tickets at its box office,
    admit them and 50 pre-sold ones at two gates (a QR reader and the handheld page),
    reconnect, and check what synced: lost 0, twice 0, stock, day report and gate counts
    agree, back online within 5 s. Exits 1 if any check fails."""
    from hub.devmode import DEV_ENV
    from hub.process import run_async
    from sandbox.demo.runner import fresh_database
    from sandbox.drill.result import render
    from sandbox.drill.standalone import run_standalone

    # A sandbox run on the development secrets, like the demo (its database is thrown away).
    os.environ[DEV_ENV] = "1"
    url = database_url or fresh_database(db)
    with tempfile.TemporaryDirectory(prefix="tickethub-drill-") as tmp:
        result = run_async(run_standalone(url, Path(tmp)))
    if json_:
        typer.echo(json.dumps(result.as_dict(), ensure_ascii=False))
    else:
        for line in render(result):
            typer.echo(line)
    raise typer.Exit(0 if result.ok else 1)

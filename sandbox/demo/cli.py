"""``tickethub demo``: the whole system on the embedded default, in one command.

The demo lives in `sandbox.demo` (it drives simulated partners); this module only parses
the command line and runs it on uvloop.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer


def demo(
    exit_: Annotated[
        bool, typer.Option("--exit", help="stop after the summary instead of serving")
    ] = False,
    port: Annotated[int, typer.Option(min=1, max=65535, help="port on 127.0.0.1")] = 8700,
    db: Annotated[Path, typer.Option(help="SQLite file, removed and created afresh")] = Path(
        "var/demo.db"
    ),
) -> None:
    """Seed a scenic area, run a box-office rush against it and check the outcome.

    Exits 0 only if every scenario expectation held and the audit found nothing oversold."""
    from rich.console import Console

    from hub.devmode import DEV_ENV
    from hub.process import run_async
    from sandbox.demo.runner import DemoRun, run_demo

    # The demo runs on the development secrets by design (they are printed with the URLs).
    os.environ[DEV_ENV] = "1"
    console = Console()
    run = DemoRun()
    try:
        run_async(run_demo(port=port, db_path=db, exit_after=exit_, console=console, run=run))
    except KeyboardInterrupt:
        console.print("stopped.")
    raise typer.Exit(0 if run.ok else 1)

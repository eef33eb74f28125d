"""How a bench command reports (one JSON line, exit 1 on a broken promise) and which
database it runs on: shared by ``tickethub bench`` and the sandbox's bridge benches."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

import typer


class DbKind(StrEnum):
    sqlite = "sqlite"
    postgres = "postgres"


def report_result(result: dict[str, Any], *, failed: bool) -> None:
    """One JSON line on stdout (what scripts and the README read); exit 1 when the run
    broke a promise (oversold, lost or duplicated), whatever the timings."""
    typer.echo(json.dumps(result, separators=(", ", ": ")))
    if failed:
        raise typer.Exit(1)

"""Options and arguments several commands share: the database URL and a day."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer

DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="Database URL; default: TICKETHUB_DATABASE_URL (hub.settings.Settings).",
        show_default=False,
    ),
]


def database_url(given: str | None) -> str:
    """The URL given on the command line, else the configured one."""
    from hub.settings import Settings

    return given or Settings().database_url


def parse_day(text: str) -> date:
    """A ``YYYY-MM-DD`` option value, refused as a bad parameter otherwise."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"not a date (YYYY-MM-DD): {text!r}") from None

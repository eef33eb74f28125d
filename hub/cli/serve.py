"""`tickethub serve`: one hub process (aiohttp on uvloop)."""

from __future__ import annotations

import logging
import sys

import typer

from hub.process import run_async, serve_until_signalled, setup_logging
from hub.settings import Settings


def serve(
    host: str = typer.Option(None, help="bind address (default from TICKETHUB_HOST)"),
    port: int = typer.Option(None, help="port (default from TICKETHUB_PORT)"),
    database_url: str = typer.Option(None, help="overrides TICKETHUB_DATABASE_URL"),
    migrate: bool = typer.Option(
        True, "--migrate/--no-migrate", help="upgrade the schema at start"
    ),
    log_level: str = typer.Option("INFO", help="logging level"),
) -> None:
    """Run one hub process. Several may share one PostgreSQL database."""
    from hub.api.app import create_app
    from hub.devmode import DefaultSecretsError

    setup_logging(log_level)
    overrides = {
        k: v for k, v in {"host": host, "port": port, "database_url": database_url}.items() if v
    }
    settings = Settings(**overrides)
    try:
        app = create_app(settings, migrate_on_start=migrate)
    except DefaultSecretsError as exc:  # one line for the operator, no traceback
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    # The SQLite driver runs each statement on its own thread; a short GIL switch
    # interval lets it hand results back without waiting out the 5 ms default while
    # the event loop is busy parsing requests.
    sys.setswitchinterval(settings.gil_switch_interval)

    def started() -> None:
        logging.getLogger("hub").info("serving on http://%s:%s", settings.host, settings.port)

    run_async(
        serve_until_signalled(app, settings.host, settings.port, backlog=1024, started=started)
    )

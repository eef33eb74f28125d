"""`tickethub serve`: one hub process (aiohttp on uvloop)."""

from __future__ import annotations

import logging
import sys

import typer


def serve(
    host: str = typer.Option(None, help="bind address (default from TICKETHUB_HOST)"),
    port: int = typer.Option(None, help="port (default from TICKETHUB_PORT)"),
    database_url: str = typer.Option(None, help="overrides TICKETHUB_DATABASE_URL"),
    migrate: bool = typer.Option(
        True, "--migrate/--no-migrate", help="upgrade the schema at start"
    ),
    log_level: str = typer.Option("INFO", help="logging level"),
    strict: bool = typer.Option(
        False,
        "--strict",
        help="refuse to start when a third-party plugin is broken (TICKETHUB_STRICT_PLUGINS)",
    ),
) -> None:
    """Run one hub process. Several may share one PostgreSQL database."""
    from hub.api.app import create_app
    from hub.devmode import refuse_default_secrets
    from hub.plugins import build_plugins
    from hub.process import run_async, serve_until_signalled, setup_logging
    from hub.settings import Settings
    from hub.storage.db import create_admin_engine, probe

    overrides = {
        k: v for k, v in {"host": host, "port": port, "database_url": database_url}.items() if v
    }
    settings = Settings(**overrides)
    setup_logging(log_level, settings.log_format)
    # Before anything is opened: a public default secret is a configuration mistake
    # (hub.cli.errors prints it as one line).
    refuse_default_secrets("hub", settings.default_secrets())
    plugins = build_plugins(
        blocked=settings.blocked_plugins, strict=strict or settings.strict_plugins
    )

    async def reachable() -> None:
        engine = create_admin_engine(settings.database_url)
        try:
            await probe(engine)
        finally:
            await engine.dispose()

    run_async(reachable())
    app = create_app(settings, plugins=plugins, migrate_on_start=migrate)
    # The SQLite driver runs each statement on its own thread; a short GIL switch
    # interval lets it hand results back without waiting out the 5 ms default while
    # the event loop is busy parsing requests.
    sys.setswitchinterval(settings.gil_switch_interval)

    def started() -> None:
        logging.getLogger("hub").info("serving on http://%s:%s", settings.host, settings.port)

    run_async(
        serve_until_signalled(app, settings.host, settings.port, backlog=1024, started=started)
    )

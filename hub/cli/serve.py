"""`tickethub serve`: one hub process (aiohttp on uvloop)."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

import typer
import uvloop
from aiohttp import web

from hub import logmask
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

    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logmask.install()
    overrides = {
        k: v for k, v in {"host": host, "port": port, "database_url": database_url}.items() if v
    }
    settings = Settings(**overrides)
    app = create_app(settings, migrate_on_start=migrate)
    # The SQLite driver runs each statement on its own thread; a short GIL switch
    # interval lets it hand results back without waiting out the 5 ms default while
    # the event loop is busy parsing requests.
    sys.setswitchinterval(settings.gil_switch_interval)

    async def main() -> None:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, settings.host, settings.port, backlog=1024)
        await site.start()
        logging.getLogger("hub").info("serving on http://%s:%s", settings.host, settings.port)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        try:
            await stop.wait()
        finally:
            await runner.cleanup()

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main())

"""The drill's own hub: in this process on 127.0.0.1 (`hub.api.app.create_app` on an
`aiohttp.web.AppRunner`, migrated at start), like the demo's, so ``tickethub drill
outage`` needs nothing but the venv — and the test of the drill runs the same code on
SQLite and PostgreSQL by handing it the database."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from hub.settings import Settings
from sandbox.drill import venue as site
from sandbox.drill.outage import run_drill
from sandbox.drill.result import DrillResult


def drill_settings(database_url: str) -> Settings:
    """The environment's settings on this database, with the drill bridge's token, and
    never the test-only unsafe inventory, whatever the shell says."""
    return Settings(
        database_url=database_url,
        host="127.0.0.1",
        port=0,
        unsafe_inventory=False,
        bridge_tokens={site.VENUE: site.BRIDGE_TOKEN},
        alert_eval_seconds=0,
    )


async def run_standalone(database_url: str, workdir: Path, **drill: int) -> DrillResult:
    """Start a hub on `database_url` (an empty database: the drill's figures are
    absolute), play the outage drill against it, stop it."""
    from hub.api.app import create_app  # heavy to import; only when running

    settings = drill_settings(database_url)
    runner = web.AppRunner(create_app(settings), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, settings.host, 0).start()
        url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        return await run_drill(
            url, settings.admin_token, settings.boxoffice_token, workdir, **drill
        )
    finally:
        await runner.cleanup()

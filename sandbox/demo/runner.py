"""Run the demo: a fresh SQLite hub in this process, the seed, the scenario, the summary.

The hub runs in-process (`hub.api.app.create_app` on an `aiohttp.web.AppRunner`) so that
``make demo`` needs nothing but the venv, yet every step still talks to it over real HTTP
on 127.0.0.1, exactly as partners and staff terminals do.
"""

from __future__ import annotations

import asyncio
import signal
import traceback
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
from aiohttp import web
from rich.console import Console

from hub.settings import Settings
from sandbox.demo.alerts import start_sandbox as start_alerts_sandbox
from sandbox.demo.context import DemoContext, Section
from sandbox.demo.ctrip import DemoCtripPlugin
from sandbox.demo.ctrip import start_sandbox as start_ctrip_sandbox
from sandbox.demo.douyin import start_sandbox as start_douyin_sandbox
from sandbox.demo.fliggy import start_sandbox as start_fliggy_sandbox
from sandbox.demo.gates_site import BRIDGE_TOKEN
from sandbox.demo.meituan import start_sandbox as start_meituan_sandbox
from sandbox.demo.scenario import STEPS
from sandbox.demo.seed import MAIN, TIMEZONE, VENUE, VENUE_NAME, seed
from sandbox.demo.summary import read_stock, render
from sandbox.demo.wechat import start_sandbox as start_wechat_sandbox
from sandbox.drill import venue as drill_site

DEFAULT_DB = Path("var/demo.db")


@dataclass
class DemoRun:
    """What the command line needs after the event loop ends (also after Ctrl-C)."""

    ok: bool = False
    urls: dict[str, str] = field(default_factory=dict)


def fresh_database(path: Path) -> str:
    """Remove the previous demo database (and its WAL files); return the new URL."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return f"sqlite+aiosqlite:///{path}"


def demo_settings(
    database_url: str,
    port: int,
    channel_settings: dict[str, dict[str, str]] | None = None,
    alert_destinations: dict[str, dict[str, Any]] | None = None,
) -> Settings:
    """The environment's settings (tokens, …) on this database and port — but never the
    test-only unsafe inventory, whatever the shell says. `channel_settings` point the
    channels at the sandbox partners the demo runs (e.g. the WeChat simulator)."""
    return Settings(
        database_url=database_url,
        host="127.0.0.1",
        port=port,
        unsafe_inventory=False,
        # the gates step's venue bridge, and the outage drill's
        bridge_tokens={VENUE: BRIDGE_TOKEN, drill_site.VENUE: drill_site.BRIDGE_TOKEN},
        **({"channel_settings": channel_settings} if channel_settings else {}),
        # the crowd alert's robot; its rules are evaluated on the venue's day by the
        # demo (sandbox.demo.alerts), not by the hub's clock
        alert_destinations=alert_destinations or {},
        alert_eval_seconds=0,
    )


async def run_demo(
    *, port: int, db_path: Path, exit_after: bool, console: Console, run: DemoRun
) -> None:
    """Start the hub, play the scenario, print the summary; then serve until cancelled
    (Ctrl-C) unless `exit_after`. `run.ok` is True only if every expectation held and the
    audit found nothing oversold."""
    from hub.api.app import HUB, create_app  # the API is heavy to import; only when running
    from hub.plugins import build_plugins

    wechat = await start_wechat_sandbox(port)  # the hub's WeChat settings point at it
    ctrip = await start_ctrip_sandbox(port)  # the hub's Ctrip callbacks go to it
    meituan = await start_meituan_sandbox(port)  # the hub's Meituan notices go to it
    channels = {"wechat": wechat.settings, "ctrip": ctrip.settings, "meituan": meituan.settings}
    douyin = await start_douyin_sandbox(port)  # the hub's Douyin OpenAPI calls go to it
    channels["douyin"] = douyin.settings
    fliggy = await start_fliggy_sandbox(port)  # the hub's TOP calls go to its gateway
    channels["fliggy"] = fliggy.settings
    alerts = await start_alerts_sandbox(port)  # the hub's alert destination is its robot
    settings = demo_settings(fresh_database(db_path), port, channels, alerts.destinations)
    plugins = build_plugins(blocked=settings.blocked_plugins, extra=[DemoCtripPlugin()])
    app = create_app(settings, plugins=plugins)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        login = await alerts.attach(app[HUB])  # and the console's demo account
        try:
            await web.TCPSite(runner, settings.host, port).start()
        except OSError as exc:
            console.print(f"[bold red]cannot listen on 127.0.0.1:{port}[/]: {exc} (try --port)")
            return
        base = f"http://127.0.0.1:{port}"
        console.rule(f"[bold]tickethub demo[/] — {VENUE_NAME} on {base} (SQLite {db_path})")
        busy = await _play(base, settings, console, run)
        run.urls = {
            "health": f"{base}/healthz",
            "metrics": f"{base}/metrics",
            "openapi": f"{base}/api/openapi.json",
            "admin": f"{base}/api/admin/inventory?pool={MAIN}&date={busy}",
            "audit": f"{base}/api/admin/audit?pool={MAIN}&date={busy}",
            "console": f"{base}/console/",
        }
        _print_urls(console, run.urls, settings)
        console.print(f"  [dim]console sign-in:[/] {login} / {alerts.password} (supervisor)")
        if exit_after:
            return
        console.print("[dim]Serving until Ctrl-C …[/]")
        stop = asyncio.Event()  # Ctrl-C cancels this task (asyncio.Runner); SIGTERM sets it
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()
        await alerts.stop()
        await wechat.stop()
        await ctrip.stop()
        await meituan.stop()
        await douyin.stop()
        await fliggy.stop()


async def _play(base: str, settings: Settings, console: Console, run: DemoRun) -> date:
    """Seed, run every step, read the stock back and print the summary; sets `run.ok`
    and returns the busy day (for the URLs)."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
        ctx = DemoContext(
            http=http,
            base_url=base,
            admin_token=settings.admin_token,
            boxoffice_token=settings.boxoffice_token,
            today=datetime.now(ZoneInfo(TIMEZONE)).date(),
        )
        sections: list[Section] = []
        try:
            with console.status("seeding the venue through the admin API …"):
                counts = await seed(ctx)
            seeded = Section("Seed (admin API)")
            seeded.fact("venue", VENUE_NAME)
            seeded.fact("products", counts["products"])
            seeded.fact(
                "slots", f"{counts['slots']} over {counts['days']} days from {ctx.busy_day}"
            )
            sections.append(seeded)
            for step in STEPS:
                with console.status(f"{step.title} …"):
                    sections.append(await step.run(ctx))
            stock = await read_stock(ctx)
        except Exception as exc:  # the demo reports a broken hub instead of a traceback wall
            console.print(f"[bold red]the scenario stopped:[/] {type(exc).__name__}: {exc}")
            console.print(traceback.format_exc(limit=4), markup=False)
            console.print("[bold red]RESULT: FAILED[/]")
            return ctx.busy_day
    run.ok = render(console, ctx, sections, stock)
    return ctx.busy_day


def _print_urls(console: Console, urls: dict[str, str], settings: Settings) -> None:
    token = settings.admin_token
    shown = (
        token if token == Settings.model_fields["admin_token"].default else "$TICKETHUB_ADMIN_TOKEN"
    )
    console.print()
    for label, url in urls.items():
        console.print(f"  {label:<8} {url}")
    console.print(f"  [dim]admin calls need: Authorization: Bearer {shown}[/]")

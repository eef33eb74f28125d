"""The `tickethub` command. Each command group lives in its own module."""

from __future__ import annotations

from typing import Annotated

import typer

from hub.cli import backfill as _backfill
from hub.cli import backup as _backup
from hub.cli import bench, channels, db, demo, outbox, plugin_new, plugins, serve
from hub.cli import reconcile as _reconcile
from hub.cli import report as _report
from hub.cli.errors import ClearErrors

app = typer.Typer(
    name="tickethub",
    help="Integration hub for scenic-area ticketing.",
    no_args_is_help=True,
    add_completion=False,
    cls=ClearErrors,
)


def _show_version(value: bool) -> None:
    if value:
        from hub.plugins import own_version

        typer.echo(f"tickethub {own_version()}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print the version and exit.", callback=_show_version, is_eager=True
        ),
    ] = False,
) -> None:
    """Integration hub for scenic-area ticketing."""


app.add_typer(db.app, name="db")
app.add_typer(outbox.app, name="outbox")
app.add_typer(bench.app, name="bench")
app.add_typer(channels.app, name="channels")
app.add_typer(_report.app, name="report")
app.add_typer(_reconcile.app, name="reconcile")
app.add_typer(plugin_new.app, name="plugin")
# The venue bridge ships in the same distribution; its commands are light to import.
from hardware_bridge.cli import bridge_app, device_app  # noqa: E402

app.add_typer(bridge_app, name="bridge")
app.add_typer(device_app, name="device")
app.command("backfill")(_backfill.backfill)
app.command("backup")(_backup.backup_command)
app.command("restore")(_backup.restore_command)
app.command("plugins")(plugins.plugins)
app.command("serve")(serve.serve)
app.command("demo")(demo.demo)


def main() -> None:
    _plugin_commands()
    app()


def _plugin_commands() -> None:
    """Let plugins add their commands; a broken plugin must not take the CLI down with it
    (the core commands are how an operator finds and blocks it). Quietly: whatever is
    wrong (a broken plugin, a bad setting) the command itself reports, once."""
    from hub.config import ConfigError
    from hub.plugins import build_plugins
    from hub.settings import Settings

    try:
        settings = Settings()
    except ConfigError:
        return
    try:
        build_plugins(blocked=settings.blocked_plugins, quiet=True).add_cli_commands(app)
    except Exception as exc:
        typer.echo(f"tickethub: warning: plugin commands not loaded: {exc}", err=True)

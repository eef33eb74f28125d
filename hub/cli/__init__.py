"""The `tickethub` command. Each command group lives in its own module.

Commands shipped beside the hub rather than in it — the venue bridge's (``bridge``,
``device``), the sandbox's (``demo``, the bridge's benches) — are found through the
``tickethub.commands`` entry points, the way plugins' commands are found through their
hook: the hub imports neither the bridge nor the sandbox.
"""

from __future__ import annotations

from importlib import metadata
from typing import Annotated

import typer

from hub.cli import backfill as _backfill
from hub.cli import backup as _backup
from hub.cli import bench, channels, db, outbox, plugin_new, plugins, serve, staff
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
app.add_typer(staff.app, name="staff")
app.add_typer(plugin_new.app, name="plugin")
app.command("backfill")(_backfill.backfill)
app.command("backup")(_backup.backup_command)
app.command("restore")(_backup.restore_command)
app.command("plugins")(plugins.plugins)
app.command("serve")(serve.serve)

COMMANDS_GROUP = "tickethub.commands"


def _entry_point_commands(root: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    """Add each ``tickethub.commands`` entry point: its name is the command's path
    (``bridge``, ``bench.sync``: a command of the ``bench`` group), its object a typer
    application (added as a group) or a function (added as a command). One that does
    not load is reported and left out, so the rest of the CLI still works."""
    for ep in sorted(metadata.entry_points(group=COMMANDS_GROUP), key=lambda e: e.name):
        parent_name, _, name = ep.name.rpartition(".")
        parent = groups.get(parent_name) if parent_name else root
        if parent is None:
            typer.echo(f"tickethub: warning: command {ep.name}: no group {parent_name!r}", err=True)
            continue
        try:
            obj = ep.load()
        except Exception as exc:
            typer.echo(f"tickethub: warning: command {ep.name} not loaded: {exc!r}", err=True)
            continue
        if isinstance(obj, typer.Typer):
            parent.add_typer(obj, name=name)
        else:
            parent.command(name)(obj)


_entry_point_commands(app, {"bench": bench.app})


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

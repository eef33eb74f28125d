"""The `tickethub` command. Each command group lives in its own module.

Commands shipped beside the hub rather than in it — the venue bridge's (``bridge``,
``device``), the sandbox's (``demo``, the bridge's benches) — are found through the
``tickethub.commands`` entry points, the way plugins' commands are found through their
hook: the hub imports neither the bridge nor the sandbox.

Every command is loaded when it is run, not when the CLI starts (`LazyCommands`): the
modules behind the commands import SQLAlchemy, aiohttp, Alembic, the channel specs…, and
importing all of them cost ~1.5 s of CPU on every start — paid by each ``tickethub`` and
``python -m hub`` process, of which the test suite starts hundreds. Only a listing (the
root ``--help``, a mistyped command's suggestions) loads them all, plugins included.
"""

from __future__ import annotations

from importlib import import_module, metadata
from typing import Annotated, Any

import typer
from typer.main import get_group

from hub.cli.errors import ClearErrors

COMMANDS_GROUP = "tickethub.commands"

# name -> "module:attribute": a typer application (a group) or a function (a command),
# in the order ``--help`` lists them. Their modules are imported on first use.
BUILTIN: dict[str, str] = {
    "backfill": "hub.cli.backfill:backfill",
    "backup": "hub.cli.backup:backup_command",
    "restore": "hub.cli.backup:restore_command",
    "plugins": "hub.cli.plugins:plugins",
    "serve": "hub.cli.serve:serve",
    "db": "hub.cli.db:app",
    "outbox": "hub.cli.outbox:app",
    "bench": "hub.cli.bench:app",
    "channels": "hub.cli.channels:app",
    "report": "hub.cli.report:app",
    "reconcile": "hub.cli.reconcile:app",
    "staff": "hub.cli.staff:app",
    "plugin": "hub.cli.plugin_new:app",
}


def _load(target: str) -> Any:
    module, _, attr = target.partition(":")
    return getattr(import_module(module), attr)


def _entry_points() -> list[metadata.EntryPoint]:
    return sorted(metadata.entry_points(group=COMMANDS_GROUP), key=lambda e: e.name)


def _add(parent: typer.Typer, name: str, obj: Any) -> None:
    """Add a typer application as a group, anything else as a command."""
    if isinstance(obj, typer.Typer):
        parent.add_typer(obj, name=name)
    else:
        parent.command(name)(obj)


def _entry_point_commands(
    root: typer.Typer,
    groups: dict[str, typer.Typer],
    only: set[str] | None = None,
) -> None:
    """Add each ``tickethub.commands`` entry point: its name is the command's path
    (``bridge``, ``bench.sync``: a command of the ``bench`` group), its object a typer
    application (added as a group) or a function (added as a command). One that does
    not load is reported and left out, so the rest of the CLI still works.

    :param only: the entry-point names to add (default: all).
    """
    for ep in _entry_points():
        if only is not None and ep.name not in only:
            continue
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
        _add(parent, name, obj)


def _as_click(add: Any) -> dict[str, Any]:
    """The click commands ``add(holder)`` registers on a fresh typer application."""
    holder = typer.Typer()
    add(holder)
    return dict(get_group(holder).commands)


class LazyCommands(ClearErrors):
    """The root group: a command's module is imported when the command is looked up.

    Looked up in order: the built-in commands (`BUILTIN`, with the entry points that
    extend a built-in group, ``bench.sync``), the ``tickethub.commands`` entry points,
    then the plugins' ``add_cli_commands`` — built only for a name neither of the others
    knows, or for a listing.
    """

    _plugins_loaded = False

    def list_commands(self, ctx: Any) -> list[str]:
        names = [*self.commands, *BUILTIN]
        names += [ep.name for ep in _entry_points() if "." not in ep.name]
        self._load_plugin_commands()
        names += list(self.commands)
        return list(dict.fromkeys(names))

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in self.commands:
            self._load(cmd_name)
        return self.commands.get(cmd_name)

    def _load(self, name: str) -> None:
        if name in BUILTIN:
            obj = _load(BUILTIN[name])
            if isinstance(obj, typer.Typer):
                sub = [ep.name for ep in _entry_points() if ep.name.startswith(f"{name}.")]
                if sub:
                    # A fresh application per load: the module's own stays as it is.
                    group = typer.Typer()
                    group.registered_callback = obj.registered_callback
                    group.info = obj.info
                    group.registered_commands = list(obj.registered_commands)
                    group.registered_groups = list(obj.registered_groups)
                    _entry_point_commands(typer.Typer(), {name: group}, only=set(sub))
                    obj = group
            self.commands.update(_as_click(lambda holder: _add(holder, name, obj)))
            return
        if any(ep.name == name for ep in _entry_points()):
            self.commands.update(
                _as_click(lambda holder: _entry_point_commands(holder, {}, only={name}))
            )
            return
        self._load_plugin_commands()

    def _load_plugin_commands(self) -> None:
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        for name, command in _as_click(_plugin_commands).items():
            self.commands.setdefault(name, command)


app = typer.Typer(
    name="tickethub",
    help="Integration hub for scenic-area ticketing.",
    no_args_is_help=True,
    add_completion=False,
    cls=LazyCommands,
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


def main() -> None:
    app()


def _plugin_commands(app: typer.Typer) -> None:
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

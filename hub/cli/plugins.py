"""`tickethub plugins`: what this installation would load, and what each plugin registered.

Loads plugins exactly as the hub does (`hub.plugins.build_plugins` with the configured
block list), so "why is my channel not there?" is answered by the same code path that
decides it: blocked, overridden by another plugin, or never registered.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Annotated, Any, Protocol

import typer
from rich.console import Console
from rich.table import Table

from hub.plugins import HubPlugins, build_plugins
from hub.settings import Settings


class _Registered(Protocol):
    """What every registry entry exposes (`hub.sdk.registries.Entry`, the rule registry's
    `RegisteredRule`)."""

    name: str
    source: str


@dataclass(frozen=True, slots=True)
class Registration:
    kind: str
    name: str
    source: str
    default: bool


def _entries(kind: str, registry: Iterable[_Registered]) -> list[Registration]:
    return [
        Registration(kind, e.name, e.source, bool(getattr(e, "default", False))) for e in registry
    ]


def registrations(hub_plugins: HubPlugins) -> list[Registration]:
    """Everything the plugins registered, in a stable order (kind, then name)."""
    return [
        *_entries("channel", hub_plugins.channels),
        *_entries("payment provider", hub_plugins.payments),
        *_entries("rule", hub_plugins.rules),
        *_entries("device driver", hub_plugins.devices),
        *_entries("alert sink", hub_plugins.alert_sinks),
    ]


def report(hub_plugins: HubPlugins) -> dict[str, Any]:
    """The JSON document of ``tickethub plugins --json`` (stable keys, for scripts)."""
    return {
        "plugins": [asdict(info) for info in hub_plugins.describe()],
        "registrations": [asdict(r) for r in registrations(hub_plugins)],
        "broken": [asdict(b) for b in hub_plugins.broken],
    }


def _yes(flag: bool) -> str:
    return "[bold]yes[/]" if flag else ""


def plugins(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
    strict: Annotated[
        bool,
        typer.Option(
            "--strict", help="A broken third-party plugin is an error (TICKETHUB_STRICT_PLUGINS)."
        ),
    ] = False,
) -> None:
    """List the plugins (built-in and third-party) and what each registered; broken
    third-party plugins are left out with a warning (an error with --strict)."""
    settings = Settings()
    hub_plugins = build_plugins(
        blocked=settings.blocked_plugins, strict=strict or settings.strict_plugins, quiet=True
    )
    for broken in hub_plugins.broken:
        typer.echo(f"tickethub: warning: {broken.line()}", err=True)
    if as_json:
        typer.echo(json.dumps(report(hub_plugins), indent=2, ensure_ascii=False))
        return

    console = Console()
    table = Table(title="Plugins")
    for column in ("name", "distribution", "version", "essential", "blocked"):
        table.add_column(column)
    for info in hub_plugins.describe():
        style = "dim" if info.blocked else None
        table.add_row(
            info.name,
            info.distribution,
            info.version,
            _yes(info.essential),
            _yes(info.blocked),
            style=style,
        )
    console.print(table)
    if hub_plugins.broken:
        left_out = Table(title="Left out (broken)")
        for column in ("name", "distribution", "version", "error"):
            left_out.add_column(column, overflow="fold")
        for b in hub_plugins.broken:
            left_out.add_row(b.name, b.distribution, b.version, b.error)
        console.print(left_out)

    registered = registrations(hub_plugins)
    found = Table(
        title="Registered",
        caption=None if registered else "no plugin registered anything",
    )
    for column in ("kind", "name", "plugin", "built-in default"):
        found.add_column(column)
    for r in registered:
        found.add_row(r.kind, r.name, r.source, _yes(r.default))
    console.print(found)

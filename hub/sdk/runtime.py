"""For applications that host plugins beside the hub (the venue bridge): the plugin
manager, running a process on uvloop with signals and logging, settings that fail in one
clear line, the development-secrets guard, and stopping a background task. Import-light:
the plugin manager loads plugins, not the hub's services or storage."""

from __future__ import annotations

import typer

from hub.config import ClearSettings, ConfigError
from hub.devmode import refuse_default_secrets
from hub.plugins import HubPlugins, PluginLoadError, build_plugins
from hub.process import run_async, serve_until_signalled, setup_logging
from hub.tasks import cancel_and_wait, wait_event

EXIT_CONFIG = 2
"""The exit status of a configuration mistake (``tickethub: error: …``)."""


def fail(line: str, code: int = EXIT_CONFIG) -> typer.Exit:
    """Print the line; the caller raises what this returns (exit 2 for a configuration
    mistake; a command that refuses an operation it was given passes 1)."""
    typer.echo(f"tickethub: error: {line}", err=True)
    return typer.Exit(code)


__all__ = [
    "EXIT_CONFIG",
    "ClearSettings",
    "ConfigError",
    "HubPlugins",
    "PluginLoadError",
    "build_plugins",
    "cancel_and_wait",
    "fail",
    "refuse_default_secrets",
    "run_async",
    "serve_until_signalled",
    "setup_logging",
    "wait_event",
]


"""Every bad configuration ends in one clear line, never a traceback.

The ``tickethub`` command group runs each command inside `ClearErrors.invoke`: a
`ConfigError` (a setting, the database, a spec file, a plugin, an unreachable hub or
bridge) is printed as ``tickethub: error: …`` on stderr and the command exits with
status 2. Anything else is a bug and keeps its traceback: hiding those would make them
harder to report.
"""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperGroup
from typer.exceptions import TyperException

from hub.config import ConfigError
from hub.sdk.runtime import EXIT_CONFIG, fail

__all__ = ["EXIT_CONFIG", "ClearErrors", "explain", "fail"]


def explain(exc: BaseException) -> str | None:
    """The one line for a configuration mistake, or ``None`` for anything else."""
    from hub.channels.loader import SpecError

    if isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        return explain(exc.exceptions[0])
    if isinstance(exc, ConfigError):
        return " ".join(str(exc).split())
    if isinstance(exc, SpecError):
        return f"channel spec {exc}"
    return None


class ClearErrors(TyperGroup):
    """The top-level group: configuration mistakes of any subcommand in one line."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, TyperException):
            raise
        except Exception as exc:
            line = explain(exc)
            if line is None:
                raise
            raise fail(line) from None

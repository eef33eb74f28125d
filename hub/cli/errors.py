"""Every bad configuration ends in one clear line, never a traceback.

The ``tickethub`` command group runs each command inside `ClearErrors.invoke`: a
`ConfigError` (a setting, the database, a spec file, a plugin, an unreachable hub or
bridge) is printed as ``tickethub: error: …`` on stderr and the command exits with
status 2. Anything else is a bug and keeps its traceback: hiding those would make them
harder to report.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer
from typer.core import TyperGroup
from typer.exceptions import TyperException

if TYPE_CHECKING:
    from hub.sdk.runtime import EXIT_CONFIG, fail

__all__ = ["EXIT_CONFIG", "ClearErrors", "explain", "fail"]


def __getattr__(name: str) -> Any:
    """``EXIT_CONFIG`` and ``fail`` from `hub.sdk.runtime`, imported when first used:
    every ``tickethub`` start loads this module, and `hub.sdk` brings aiohttp, pydantic
    and the registries (~0.4 s of CPU) that most commands, and ``--help``, never need."""
    if name in ("EXIT_CONFIG", "fail"):
        from hub.sdk import runtime

        return getattr(runtime, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def explain(exc: BaseException) -> str | None:
    """The one line for a configuration mistake, or ``None`` for anything else."""
    from hub.channels.loader import SpecError
    from hub.config import ConfigError

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
            from hub.sdk.runtime import fail

            raise fail(line) from None

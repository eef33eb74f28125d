"""Configuration mistakes, said in one line.

An operator who mistypes an environment variable should read which variable and what is
wrong with it, not a pydantic traceback. `ConfigError` is the one exception the CLI turns
into a single ``tickethub: error: …`` line on stderr and a non-zero exit (see
`hub.cli.errors`); `ClearSettings` is the settings base class whose validation failures
become one.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError
from pydantic_settings import BaseSettings
from pydantic_settings.exceptions import SettingsError


class ConfigError(ValueError):
    """A configuration this process cannot run with. ``str()`` is one line that names
    the setting (or file, or address) and says what is wrong."""


_FIELD = re.compile(r'field "([^"]+)"')


class ClearSettings(BaseSettings):
    """`BaseSettings` whose failures are a `ConfigError` naming the environment variable:
    ``TICKETHUB_CHANNEL_SETTINGS is not valid JSON (Expecting value: line 1 column 2)``."""

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except SettingsError as exc:
            raise ConfigError(_settings_error(type(self), exc)) from None
        except ValidationError as exc:
            raise ConfigError(_validation_error(type(self), exc)) from None


def env_name(cls: type[BaseSettings], field: str) -> str:
    prefix = str(cls.model_config.get("env_prefix", ""))
    return f"{prefix}{field}".upper()


def _settings_error(cls: type[BaseSettings], exc: SettingsError) -> str:
    """pydantic-settings could not decode a complex value (JSON) from its source."""
    m = _FIELD.search(str(exc))
    name = env_name(cls, m.group(1)) if m else "a setting"
    cause = exc.__cause__
    if cause is not None:
        return f"{name} is not valid JSON ({_one_line(str(cause))})"
    return f"{name}: {_one_line(str(exc))}"


def _validation_error(cls: type[BaseSettings], exc: ValidationError) -> str:
    errors = exc.errors(include_url=False)
    parts = []
    for err in errors[:3]:
        loc = [str(p) for p in err["loc"]]
        name = env_name(cls, loc[0]) if loc else "settings"
        where = name + "".join(f"[{p}]" for p in loc[1:])
        parts.append(f"{where}: {_one_line(str(err['msg']))}")
    more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
    return "invalid setting " + "; ".join(parts) + more


def _one_line(text: str) -> str:
    return " ".join(text.split())

"""Development mode, and the refusal to run with development secrets outside it.

The hub and the bridge ship with defaults that make a first run work with no
configuration: ``dev-admin-token``, a fixed ID-hash secret, keys derived from it. Those
defaults are public (they are in this repository), so a deployment that forgot one is
open to anyone who reads the source. Outside development mode (``TICKETHUB_DEV=1``, which
the demo and the test suite set) the hub and the bridge therefore refuse to start while
any secret is still a default, and name every setting to set; in development mode they
start and log a warning naming the same settings.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

from hub.config import ConfigError

DEV_ENV = "TICKETHUB_DEV"

log = logging.getLogger("hub.devmode")


class DefaultSecretsError(ConfigError):
    """A secret is still a development default outside development mode: a configuration
    mistake like any other, so the command line prints it as its one clear line."""


def dev_mode() -> bool:
    """True when ``TICKETHUB_DEV`` is set to 1/true/yes (read at each call: the demo and
    tests set it at run time)."""
    return os.environ.get(DEV_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def refuse_default_secrets(what: str, unset: Sequence[str]) -> None:
    """Raise `DefaultSecretsError` naming the environment variables in `unset`, unless
    development mode is on (then log a warning) or `unset` is empty.

    :param what: who is starting, for the message (``"hub"``, ``"bridge"``).
    :param unset: environment variable names whose settings still hold a default.
    """
    if not unset:
        return
    names = ", ".join(unset)
    if dev_mode():
        log.warning(
            "%s is running with development secrets (%s=1): set %s before production",
            what,
            DEV_ENV,
            names,
        )
        return
    raise DefaultSecretsError(
        f"{what} refuses to start with development secrets: set {names} "
        f"(or {DEV_ENV}=1 for a development run)"
    )

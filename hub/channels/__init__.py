"""Declarative OTA channels: specs (data per partner) and the schemes they name.

A partner's protocol is described in a TOML spec (the spec language: ``channel_specs/``;
a built-in partner's file sits in its plugin folder) and validated by `ChannelSpec`; the
crypto and signature schemes a spec can name are registered by plugins
(`hub.channels.schemes`), with the shared pieces in `codecs`. The generic adapter and
the plugins per OTA build on these.
"""

from __future__ import annotations

from hub.channels.codecs import CodecError
from hub.channels.loader import (
    PathError,
    SpecError,
    check_schemes,
    get_path,
    load_all,
    load_spec,
    parse_spec,
    registered_specs,
)
from hub.channels.schemes import Protocols
from hub.channels.spec import ChannelSpec

__all__ = [
    "ChannelSpec",
    "CodecError",
    "PathError",
    "Protocols",
    "SpecError",
    "check_schemes",
    "get_path",
    "load_all",
    "load_spec",
    "parse_spec",
    "registered_specs",
]

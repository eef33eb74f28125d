"""Declarative OTA channels: specs (data per partner) and the codecs they name.

A partner's protocol is described in ``channel_specs/<name>.toml`` and validated by
`ChannelSpec`; the crypto and signature schemes a spec can name live in `codecs`. The
generic adapter and the plugins per OTA build on these.
"""

from __future__ import annotations

from hub.channels.codecs import CodecError
from hub.channels.loader import PathError, SpecError, get_path, load_all, load_spec, parse_spec
from hub.channels.spec import ChannelSpec

__all__ = [
    "ChannelSpec",
    "CodecError",
    "PathError",
    "SpecError",
    "get_path",
    "load_all",
    "load_spec",
    "parse_spec",
]

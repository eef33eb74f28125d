"""Ctrip (携程) supplier order API as a channel plugin, driven by ``channel_specs/ctrip.toml``.

Found through the ``tickethub`` entry point; the envelope, crypto, signature and result
codes come from the spec through `hub.channels.adapter`, and this plugin only holds what
the spec cannot say (which service does what, the shapes of Ctrip's answers).
"""

from __future__ import annotations

from hub import hookimpl
from hub.registries import ChannelRegistry
from plugins.channel_ctrip.adapter import CtripChannel

__version__ = "0.1.0"


@hookimpl
def register_channels(registry: ChannelRegistry) -> None:
    registry.add(CtripChannel.name, CtripChannel())

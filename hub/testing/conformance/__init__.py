"""The channel conformance kit: the partner's promises, checked the same way for every
channel, built-in or third-party. Subclass `ChannelProbe` for your partner (its module
docstring lists the hooks) and `ConformanceSuite`; the ``tickethub`` pytest plugin
provides the database fixture.

The kits for device drivers (`hub.testing.conformance.devices`) and alert sinks
(`hub.testing.conformance.alerts`) are imported from their modules; ``docs/plugins.md``
describes all three."""

from __future__ import annotations

from hub.testing.conformance.harness import FAST_CALLBACKS, PRODUCT, KitHub, kit_hub
from hub.testing.conformance.probe import (
    Answer,
    ChannelProbe,
    PartnerCodes,
    ProbeAnswer,
    ProbeRequest,
    ReceivedCall,
    broken,
)
from hub.testing.conformance.receiver import CallbackReceiver
from hub.testing.conformance.suite import ConformanceSuite

__all__ = [
    "FAST_CALLBACKS",
    "PRODUCT",
    "Answer",
    "CallbackReceiver",
    "ChannelProbe",
    "ConformanceSuite",
    "KitHub",
    "PartnerCodes",
    "ProbeAnswer",
    "ProbeRequest",
    "ReceivedCall",
    "broken",
    "kit_hub",
]

"""The channel conformance kit: the partner's promises, checked the same way for every
channel, built-in or third-party. Write a `ChannelProbe` for your partner and subclass
`ConformanceSuite`; the ``tickethub`` pytest plugin provides the database fixture."""

from __future__ import annotations

from hub.testing.conformance.harness import FAST_CALLBACKS, PRODUCT, KitHub, kit_hub
from hub.testing.conformance.probe import ChannelProbe, ProbeAnswer, ProbeRequest
from hub.testing.conformance.receiver import CallbackReceiver
from hub.testing.conformance.suite import ConformanceSuite

__all__ = [
    "FAST_CALLBACKS",
    "PRODUCT",
    "CallbackReceiver",
    "ChannelProbe",
    "ConformanceSuite",
    "KitHub",
    "ProbeAnswer",
    "ProbeRequest",
    "kit_hub",
]

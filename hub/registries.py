"""The concrete registries of an application (channels, payments, devices)."""

from __future__ import annotations

from typing import Any

from hub.contracts import ChannelAdapter, PaymentProvider
from hub.registry import Registry


class ChannelRegistry(Registry[ChannelAdapter]):
    kind = "channel"


class PaymentProviderRegistry(Registry[PaymentProvider]):
    kind = "payment provider"


class DeviceDriverRegistry(Registry[Any]):
    """Vendor name → driver factory (a callable building a `DeviceDriver`)."""

    kind = "device driver"

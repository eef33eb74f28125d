"""tickethub: one inventory and one rule set for every sales channel and every gate.

This module is the public plugin API: a plugin (built-in or third-party) imports from
``hub`` and nothing deeper, except the pure domain in ``hub.domain``.
"""

from __future__ import annotations

from hub.contracts import (
    ChannelAdapter,
    ChannelContext,
    DeliveryError,
    DeviceAuthError,
    DeviceConfig,
    DeviceConfigError,
    DeviceDriver,
    DeviceError,
    DeviceHost,
    DeviceInfo,
    DiscoveredDevice,
    DiscoveringDriver,
    PartnerCall,
    PaymentProvider,
    Statement,
    StatementSource,
    StatementUnavailable,
)
from hub.domain import (
    Denial,
    DenialCode,
    Order,
    OrderLine,
    OrderRequest,
    OrderState,
    Redemption,
    Ticket,
    Visitor,
)
from hub.domain.errors import DeniedError
from hub.domain.gate import DeviceEvent, Direction, GateCredential, GateDecision, Medium, Scan
from hub.hookspecs import hookimpl

__all__ = [
    "ChannelAdapter",
    "ChannelContext",
    "DeliveryError",
    "Denial",
    "DenialCode",
    "DeniedError",
    "DeviceAuthError",
    "DeviceConfig",
    "DeviceConfigError",
    "DeviceDriver",
    "DeviceError",
    "DeviceEvent",
    "DeviceHost",
    "DeviceInfo",
    "Direction",
    "DiscoveredDevice",
    "DiscoveringDriver",
    "GateCredential",
    "GateDecision",
    "Medium",
    "Order",
    "OrderLine",
    "OrderRequest",
    "OrderState",
    "PartnerCall",
    "PaymentProvider",
    "Redemption",
    "Scan",
    "Statement",
    "StatementSource",
    "StatementUnavailable",
    "Ticket",
    "Visitor",
    "hookimpl",
]

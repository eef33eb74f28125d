"""The tickethub SDK: everything a channel plugin, a device driver, an alert sink or the
venue bridge builds on. Plugins import from ``hub.sdk`` (and its submodules) and from the
pure `hub.domain`, nothing else of ``hub``; an import-linter contract in
``pyproject.toml`` holds them to it.

This module is the core, import-light (no web stack, no database): hook markers,
registries, the Protocols a plugin implements or is handed, the clock and the order
service's answer. The rest is grouped by who needs it, each import-light unless it says
otherwise:

* `hub.sdk.web` — routes with their OpenAPI declaration, JSON errors, request parsing,
  bearer auth, rate limits (aiohttp);
* `hub.sdk.channels` — the channel-spec machinery an OTA plugin builds on, and the
  outbox's `RetryPolicy` (pulls in the hub's channel and order modules);
* `hub.sdk.drivers` — what device drivers share (options, peer addresses, background
  tasks);
* `hub.sdk.alerts` — the alert-sink contract and helpers;
* `hub.sdk.faces` — taking a visitor's face photo over HTTP;
* `hub.sdk.commands` — a plugin's CLI commands reaching the database;
* `hub.sdk.runtime` — for applications that host plugins (the bridge): the plugin
  manager, process, logging and settings helpers;
* `hub.sdk.jpeg`, `hub.sdk.sqlite_backup` — small utilities the bridge shares with the hub.
"""

from __future__ import annotations

from hub.clock import Clock, FixedClock, SystemClock
from hub.contracts import (
    Accounts,
    ChannelAdapter,
    ChannelContext,
    DeliveryError,
    Faces,
    Orders,
    Outbox,
    PartnerCall,
    PaymentProvider,
    Services,
    Statement,
    StatementSource,
    StatementUnavailable,
    Store,
)
from hub.device_contracts import (
    CheckingDriver,
    DeviceAuthError,
    DeviceConfig,
    DeviceConfigError,
    DeviceDriver,
    DeviceError,
    DeviceHost,
    DeviceInfo,
    DiscoveredDevice,
    DiscoveringDriver,
    DriverFactory,
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
from hub.domain.rules.registry import RuleRegistry
from hub.hookspecs import hookimpl
from hub.sdk.outcome import Outcome
from hub.sdk.registries import (
    AlertSinkRegistry,
    ChannelRegistry,
    DeviceDriverRegistry,
    PaymentProviderRegistry,
    Registry,
    RegistryError,
)

__all__ = [
    "Accounts",
    "AlertSinkRegistry",
    "ChannelAdapter",
    "ChannelContext",
    "ChannelRegistry",
    "CheckingDriver",
    "Clock",
    "DeliveryError",
    "Denial",
    "DenialCode",
    "DeniedError",
    "DeviceAuthError",
    "DeviceConfig",
    "DeviceConfigError",
    "DeviceDriver",
    "DeviceDriverRegistry",
    "DeviceError",
    "DeviceEvent",
    "DeviceHost",
    "DeviceInfo",
    "Direction",
    "DiscoveredDevice",
    "DiscoveringDriver",
    "DriverFactory",
    "Faces",
    "FixedClock",
    "GateCredential",
    "GateDecision",
    "Medium",
    "Order",
    "OrderLine",
    "OrderRequest",
    "OrderState",
    "Orders",
    "Outbox",
    "Outcome",
    "PartnerCall",
    "PaymentProvider",
    "PaymentProviderRegistry",
    "Redemption",
    "Registry",
    "RegistryError",
    "RuleRegistry",
    "Scan",
    "Services",
    "Statement",
    "StatementSource",
    "StatementUnavailable",
    "Store",
    "SystemClock",
    "Ticket",
    "Visitor",
    "hookimpl",
]

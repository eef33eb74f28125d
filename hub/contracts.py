"""What plugins implement: the Protocols behind the registries.

Hooks are synchronous and only register these objects; the async work lives here. The hub
injects everything an adapter needs through `ChannelContext` (the shared HTTP session,
the order service, the outbox, the clock); a plugin never opens its own session or
database connection.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import aiohttp
    from aiohttp import web

    from hub.clock import Clock
    from hub.domain import Order, Ticket


@dataclass(frozen=True, slots=True)
class PartnerCall:
    """One call to a partner, queued durably in the outbox.

    `dedupe_key` makes the enqueue idempotent (the same callback is never queued twice);
    `partner` names the channel whose adapter delivers it."""

    partner: str
    kind: str
    dedupe_key: str
    payload: Mapping[str, Any]
    order_id: str | None = None
    not_before: datetime | None = None


class DeliveryError(Exception):
    """A delivery failed. `retryable=False` dead-letters the call at once (the partner
    refused it for good, e.g. a validation error on its side)."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


@runtime_checkable
class ChannelAdapter(Protocol):
    """A sales channel: the partner-facing routes and the delivery of its partner calls."""

    name: str

    def setup(self, ctx: ChannelContext) -> None:
        """Receive the hub's services and mount routes on ``ctx.routes``."""
        ...

    async def deliver(self, call: PartnerCall) -> None:
        """Send one queued partner call; raise `DeliveryError` when it did not land."""
        ...


@runtime_checkable
class PaymentProvider(Protocol):
    """Takes money for held orders and gives it back."""

    name: str

    async def refund(self, order: Order, amount: int, refund_no: str) -> None:
        """Return `amount` fen of `order`; idempotent on `refund_no`."""
        ...


@runtime_checkable
class DeviceDriver(Protocol):
    """A family of entrance devices (one vendor protocol). Lives in the venue bridge."""

    vendor: str

    async def start(self, host: Any) -> None:
        """Start listening / polling; `host` is the bridge's device host."""
        ...

    async def stop(self) -> None: ...

    async def push_credentials(self, device_id: str, tickets: list[Ticket]) -> None:
        """Bring a device that keeps its own list up to date."""
        ...


@dataclass
class ChannelContext:
    """What the hub hands a channel adapter at start-up."""

    routes: web.RouteTableDef
    orders: Any  # hub.orders.OrderService — typed loosely to keep this module import-light
    outbox: Any  # hub.outbox.Outbox
    http: aiohttp.ClientSession | None
    clock: Clock
    settings: Mapping[str, Any] = field(default_factory=dict)

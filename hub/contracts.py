"""What plugins implement: the Protocols behind the registries.

Hooks are synchronous and only register these objects; the async work lives here. The hub
injects everything an adapter needs through `ChannelContext` (the shared HTTP session,
the order service, the outbox, the clock); a plugin never opens its own session or
database connection.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import aiohttp

    from hub.api.routing import ApiRoutes
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


class Services(Protocol):
    """The running hub's shared services (available once the application started)."""

    orders: Any  # hub.orders.OrderService — typed loosely to keep this module import-light
    outbox: Any  # hub.outbox.Outbox
    http: aiohttp.ClientSession

    def store_for(self, namespace: str) -> Any:
        """A `hub.plugin_store.PluginStore` for one plugin."""
        ...


class ChannelContext:
    """What the hub hands a channel adapter in ``setup``.

    Routes must be mounted during ``setup`` (before the app starts); the services behind
    `orders`, `outbox` and `http` exist only once the app runs, so they are looked up on
    use rather than captured."""

    def __init__(
        self,
        *,
        routes: ApiRoutes,
        clock: Clock,
        services: Callable[[], Services],
        settings: Mapping[str, Any] | None = None,
    ) -> None:
        self.routes = routes
        self.clock = clock
        self.settings = dict(settings or {})
        self._services = services

    @property
    def orders(self) -> Any:
        return self._services().orders

    @property
    def outbox(self) -> Any:
        return self._services().outbox

    @property
    def http(self) -> aiohttp.ClientSession:
        return self._services().http

    @property
    def accounts(self) -> Any:
        """B2B accounts (`hub.accounts.AccountService`), charged atomically with stock."""
        return self._services().orders.accounts

    def store(self, namespace: str) -> Any:
        """This plugin's document store (`hub.plugin_store.PluginStore`)."""
        return self._services().store_for(namespace)

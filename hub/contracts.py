"""What channel, payment and statement plugins implement: the Protocols behind the registries.

Hooks are synchronous and only register these objects; the async work lives here. The hub
injects everything an adapter needs through `ChannelContext` (the shared HTTP session,
the order service, the outbox, the clock); a plugin never opens its own session or
database connection. The device drivers' side of the contract (what the venue bridge
hands a driver) is `hub.device_contracts`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from datetime import date, timedelta

    import aiohttp
    from aiohttp import web

    from hub.accounts.service import Account, AccountEntry
    from hub.channels.schemes import Protocols
    from hub.clock import Clock
    from hub.domain import Denial, Order, OrderRequest, Visitor
    from hub.sdk.outcome import Outcome
    from hub.sdk.web.routing import ApiRoutes


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


@dataclass(frozen=True, slots=True)
class Statement:
    """A partner's statement of one day as fetched: the file's bytes as the partner sent
    them, and the merchant/account id the hub checks every line against."""

    day: date
    raw: bytes
    merchant: str


class StatementUnavailable(Exception):
    """No statement for that day. `empty` says the partner has none because nothing
    happened (WeChat keeps no bill of a day without transactions); `retryable` that it
    may exist later (not generated yet, partner unreachable)."""

    def __init__(self, message: str, *, empty: bool = False, retryable: bool = False) -> None:
        super().__init__(message)
        self.empty = empty
        self.retryable = retryable


@runtime_checkable
class StatementSource(Protocol):
    """A channel adapter that can fetch its partner's statement by itself (WeChat Pay's
    trade bill). The daily reconciliation job fetches, imports and matches it."""

    name: str

    async def fetch_statement(self, day: date) -> Statement:
        """The statement of `day` (the partner's own calendar day); raise
        `StatementUnavailable` when there is none."""
        ...


@runtime_checkable
class PaymentProvider(Protocol):
    """Takes money for held orders and gives it back."""

    name: str

    async def refund(self, order: Order, amount: int, refund_no: str) -> None:
        """Return `amount` fen of `order`; idempotent on `refund_no`."""
        ...


class Orders(Protocol):
    """The order service as a channel uses it (`hub.orders.OrderService`): every move
    answers an `Outcome` (status + body) that the channel translates for its partner;
    ``key`` makes a move idempotent."""

    accounts: Accounts

    async def get(
        self,
        order_id: str | None = None,
        *,
        channel: str | None = None,
        partner_order_id: str | None = None,
    ) -> Order | None: ...

    async def check(self, request: OrderRequest) -> Denial | None: ...

    async def place(self, request: OrderRequest, operation: str = "create") -> Outcome: ...

    async def confirm(
        self, order_id: str, *, key: str | None = None, **payment: Any
    ) -> Outcome: ...

    async def confirm_paid(
        self, order_id: str, *, key: str, if_gone: Sequence[PartnerCall] = (), **payment: Any
    ) -> Outcome: ...

    async def cancel(self, order_id: str, *, key: str | None = None) -> Outcome: ...

    async def refund(
        self, order_id: str, ticket_ids: Sequence[str] | None = None, *, key: str | None = None
    ) -> Outcome: ...

    async def replace_visitors(
        self, order_id: str, changes: Mapping[int, Visitor], *, key: str | None = None
    ) -> Outcome: ...

    async def availability(self, product_id: str, day: date, channel: str) -> dict[str, Any]: ...


class Outbox(Protocol):
    """The durable outbox (`hub.outbox.Outbox`): calls are queued in the caller's
    transaction (``conn``), and `notify` wakes the workers after the commit."""

    async def enqueue(self, conn: Any, calls: Sequence[PartnerCall]) -> int: ...

    def notify(self) -> None: ...


class Faces(Protocol):
    """Visitors' face photos (`hub.faces.FaceService`)."""

    max_bytes: int

    async def enroll(
        self, order: Order, index: int, photo: bytes, *, source: str
    ) -> dict[str, Any]: ...


class PaymentFailures(Protocol):
    """Where a channel records a failed payment-provider call
    (`hub.alerts.payments.PaymentFailures`); the ``payment_failures`` alert rule counts
    them. No personal data in ``reference`` (merchant-side numbers only)."""

    async def record(
        self, provider: str, operation: str, *, code: str = "", reference: str = ""
    ) -> None: ...


class Accounts(Protocol):
    """B2B accounts (`hub.accounts.AccountService`): credit and prepaid balances."""

    async def get(self, account_id: str) -> Account | None: ...

    async def open(
        self, account_id: str, *, owner: str, kind: str, credit_limit: int = 0
    ) -> Account: ...

    async def set_status(self, account_id: str, status: str) -> Account: ...

    async def top_up(
        self, account_id: str, amount: int, *, key: str, note: str = ""
    ) -> Account: ...

    async def entries(
        self, account_id: str, since: datetime | None = None, until: datetime | None = None
    ) -> list[AccountEntry]: ...


class Store(Protocol):
    """One plugin's document store (`hub.plugin_store.PluginStore`): JSON documents by
    (kind, key), optionally expiring."""

    async def get(self, kind: str, key: str) -> dict[str, Any] | None: ...

    async def put(
        self, kind: str, key: str, doc: dict[str, Any], *, ttl: timedelta | None = None
    ) -> None: ...

    async def add(
        self, kind: str, key: str, doc: dict[str, Any], *, ttl: timedelta | None = None
    ) -> bool: ...

    async def delete(self, kind: str, key: str) -> bool: ...

    async def list(
        self, kind: str, *, prefix: str = "", limit: int = 1000
    ) -> list[tuple[str, dict[str, Any]]]: ...


class Services(Protocol):
    """The running hub's shared services (available once the application started)."""

    orders: Orders
    outbox: Outbox
    http: aiohttp.ClientSession
    faces: Faces
    alerts: Any  # hub.alerts.AlertService (its ``payments`` recorder)

    def store_for(self, namespace: str) -> Store:
        """One plugin's `Store`."""
        ...


class ChannelContext:
    """What the hub hands a channel adapter in ``setup``: everything a channel reaches
    of the running hub, so it never needs the application object itself.

    Routes must be mounted during ``setup`` (before the app starts); the services behind
    `orders`, `outbox` and `http` exist only once the app runs, so they are looked up on
    use rather than captured. ``staff_tokens`` are the bearer tokens of the staff roles
    (``"admin"``, ``"boxoffice"``) that `require_staff` checks."""

    def __init__(
        self,
        *,
        routes: ApiRoutes,
        clock: Clock,
        services: Callable[[], Services],
        settings: Mapping[str, Any] | None = None,
        staff_tokens: Mapping[str, str] | None = None,
        protocols: Protocols | None = None,
    ) -> None:
        """``protocols``: the codecs, signature schemes and spec files the application's
        plugins registered; a spec-driven adapter looks its scheme names up there (None:
        every installed plugin's, `hub.channels.schemes.installed`)."""
        self.routes = routes
        self.clock = clock
        self.settings = dict(settings or {})
        self._services = services
        self._staff_tokens = dict(staff_tokens or {})
        self.protocols = protocols

    @property
    def orders(self) -> Orders:
        return self._services().orders

    @property
    def outbox(self) -> Outbox:
        return self._services().outbox

    @property
    def http(self) -> aiohttp.ClientSession:
        return self._services().http

    @property
    def faces(self) -> Faces:
        """Visitors' face photos: enroll."""
        return self._services().faces

    @property
    def payment_failures(self) -> PaymentFailures:
        """Where a channel records a failed payment-provider call: the
        ``payment_failures`` alert rule counts them."""
        return self._services().alerts.payments

    @property
    def accounts(self) -> Accounts:
        """B2B accounts, charged atomically with stock."""
        return self._services().orders.accounts

    def store(self, namespace: str) -> Store:
        """This plugin's document store."""
        return self._services().store_for(namespace)

    def require_staff(self, request: web.Request, *roles: str) -> None:
        """A 401 unless the request bears the token of one of the staff ``roles``
        (``"admin"``, ``"boxoffice"``); a role without a token never matches."""
        from hub.sdk.web.auth import require_bearer

        require_bearer(request, *(self._staff_tokens.get(role, "") for role in roles))

"""A whole OTA channel from its spec alone: the hub's answer to "add a partner without code".

When a partner's protocol is covered by the spec language — envelope, encryption,
signing, the `[mapping]` of an order, the `[answer]` layout of our answers, result codes,
callbacks queued `on` hub events — `SpecChannel` serves it: every operation's canonical
meaning (``verify``, ``create_hold``, ``create_paid``, ``pay``, ``cancel``, ``refund``,
``query``) is a move of the one order service, idempotent on the partner's order id, and
every callback goes through the outbox with the spec's own retry schedule. Partners that
need more (Ctrip's ``cancelType``, Douyin's token-based OpenAPI) keep a plugin that uses
the same adapter pieces.

Spec-only channels are read from the folders in the ``channel_specs_dirs`` setting, so an
integrator ships a TOML file and a restart, nothing else.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from aiohttp import web

from hub.channels import refunds
from hub.channels.adapter import Inbound, SecretsMissing, SpecInbound
from hub.channels.loader import PathError, get_path, load_all
from hub.channels.mapping import to_order_request
from hub.channels.outbound import OutboundConfigError, SpecOutbound, callback_policies
from hub.channels.schemes import Protocols
from hub.channels.spec import ChannelSpec
from hub.channels.spec_outbound import Answer
from hub.config import ConfigError
from hub.contracts import ChannelContext, DeliveryError, PartnerCall
from hub.domain import Denial, DenialCode, Order, OrderState, Redemption, Ticket
from hub.domain.order import TicketState
from hub.hookspecs import hookimpl
from hub.outbox.policy import RetryPolicy
from hub.sdk.registries import ChannelRegistry
from hub.sdk.web.routing import partner_body

log = logging.getLogger(__name__)

_HELD = {OrderState.HELD, OrderState.CANCELLED, OrderState.EXPIRED}


def _put(doc: dict[str, Any], path: str | None, value: Any) -> None:
    if path is None:
        return
    cur = doc
    parts = path.split(".")
    for part in parts[:-1]:
        cur = cur.setdefault(part, {})
    cur[parts[-1]] = value


def order_body(order: Order, answer: Answer | None) -> dict[str, Any]:
    """The order in the partner's layout (`[answer]`); totals are running totals."""
    a = answer or Answer()
    doc: dict[str, Any] = {}
    used = sum(t.units for t in order.tickets if t.entries_used > 0)
    refunded = sum(t.units for t in order.tickets if t.state == TicketState.REVOKED)
    _put(doc, a.partner_order_id, order.partner_order_id)
    _put(doc, a.order_id, order.id)
    _put(doc, a.state, a.states.get(order.state.value, order.state.value))
    _put(doc, a.quantity, order.quantity)
    _put(doc, a.used_quantity, used)
    _put(doc, a.refunded_quantity, refunded)
    if a.vouchers is not None:
        vouchers = []
        for t in order.tickets:
            v: dict[str, Any] = {}
            _put(v, a.voucher.id, t.id)
            _put(v, a.voucher.code, t.credential)
            _put(v, a.voucher.state, t.state.value)
            vouchers.append(v)
        _put(doc, a.vouchers, vouchers)
    return doc


class SpecChannel:
    """A `ChannelAdapter` driven entirely by a `ChannelSpec`."""

    def __init__(self, spec: ChannelSpec) -> None:
        self.spec = spec
        self.name = spec.channel.name
        self.ctx: ChannelContext | None = None
        self.inbound: SpecInbound | None = None
        self.outbound: SpecOutbound | None = None
        self._policies = callback_policies(spec)

    # ------------------------------------------------------------------ wiring

    def setup(self, ctx: ChannelContext) -> None:
        self.ctx = ctx
        try:
            self.inbound = SpecInbound(
                self.spec, ctx.settings, clock=ctx.clock.now, protocols=ctx.protocols
            )
            if self.spec.callbacks:
                self.outbound = SpecOutbound(
                    self.spec, ctx.settings, clock=ctx.clock.now, protocols=ctx.protocols
                )
        except (SecretsMissing, OutboundConfigError) as exc:
            # A hub without this partner's secrets still starts; the partner gets its own
            # "system error" code until the channel is configured.
            log.warning("%s channel not configured: %s", self.name, exc)
        base = f"/api/channels/{self.name}"
        doc = {
            "summary": f"{self.spec.channel.display_name} (spec-only channel)",
            "body": partner_body(f"{self.spec.channel.display_name}'s envelope, as its spec says"),
            "responses": {200: "the partner's answer envelope (its result code inside)"},
        }
        if self.spec.envelope.operation_from == "field":

            @ctx.routes.post(base, tag=self.name, **doc)
            async def by_field(request: web.Request) -> web.Response:
                return await self._serve(request, None)
        else:

            @ctx.routes.post(base + "/{operation:.+}", tag=self.name, **doc)
            async def by_url(request: web.Request) -> web.Response:
                return await self._serve(request, request.match_info["operation"])

    def retry_policy_for(self, kind: str) -> RetryPolicy | None:
        return self._policies.get(kind)

    async def _serve(self, request: web.Request, operation: str | None) -> web.Response:
        if self.inbound is None:
            entry = self.spec.result_entry("INTERNAL")
            code = {"code": entry.code, "message": "channel not configured"}
            return web.json_response(code)
        return await self.inbound.respond(request, operation, self.handle)

    # ------------------------------------------------------------------ operations

    @property
    def _c(self) -> ChannelContext:
        assert self.ctx is not None
        return self.ctx

    async def handle(self, call: Inbound) -> dict[str, Any]:
        """One authenticated call to its answer document."""
        assert self.inbound is not None
        op = self.spec.operations.get(call.operation)
        if op is None:
            return self.inbound.answer("INVALID_REQUEST", detail=f"unknown {call.operation}")
        if not isinstance(call.body, dict):
            return self.inbound.answer("PARSE_ERROR", call.operation, detail="not an object")
        canonical = op.canonical
        if canonical in ("verify", "create_hold", "create_paid"):
            return await self._intake(call, canonical)
        order = await self._find(call)
        if isinstance(order, Denial):
            return self.inbound.deny(order, call.operation)
        if canonical == "query":
            return self.inbound.answer("OK", call.operation, body=self._body(order))
        if canonical == "refund":
            return await self.refund(call, order)
        # a cancel of a paid order refunds everything left: the key of such a refund
        method = "confirm" if canonical == "pay" else "cancel" if order.state in _HELD else "refund"
        key = f"{self.name}\x1f{method}\x1f{order.partner_order_id}"
        outcome = await getattr(self._c.orders, method)(order.id, key=key)
        return self.inbound.outcome(outcome, call.operation, self._outcome_body(outcome))

    async def refund(self, call: Inbound, order: Order) -> dict[str, Any]:
        """Everything left, or the operation's ``quantity`` of units under the partner's
        refund id (`hub.channels.refunds`)."""
        assert self.inbound is not None
        op = self.spec.operations[call.operation]
        path = op.quantity or (self.spec.mapping.quantity if self.spec.mapping else None)
        quantity = refunds.requested_quantity(call.body, path)
        if isinstance(quantity, Denial):
            return self.inbound.deny(quantity, call.operation)
        key = refunds.whole_key(self.name, order.partner_order_id)
        tickets: list[str] | None = None
        if quantity is not None:
            key = f"{key}\x1f{self.refund_id(call)}"
            store = self._c.store(self.name)
            chosen = await refunds.choose(
                store, key, order, quantity, call.body, field=path or "quantity"
            )
            if isinstance(chosen, Denial):
                return self.inbound.deny(chosen, call.operation)
            tickets = chosen
        outcome = await self._c.orders.refund(order.id, tickets, key=key)
        return self.inbound.outcome(outcome, call.operation, self._outcome_body(outcome))

    def refund_id(self, call: Inbound) -> str:
        """The partner's id of this refund request (else its body's fingerprint)."""
        op = self.spec.operations.get(call.operation)
        return refunds.request_id(call.body, op.refund_id if op else None)

    async def _intake(self, call: Inbound, canonical: str) -> dict[str, Any]:
        assert self.inbound is not None
        request = to_order_request(
            self.spec, call.body, call.operation, confirm=canonical == "create_paid"
        )
        if isinstance(request, Denial):
            return self.inbound.deny(request, call.operation)
        orders = self._c.orders
        if canonical != "verify":
            outcome = await orders.place(request, operation="create")
            return self.inbound.outcome(outcome, call.operation, self._outcome_body(outcome))
        refused = await orders.check(request)
        if refused is not None:
            return self.inbound.deny(refused, call.operation)
        line = request.lines[0]
        avail = await orders.availability(line.product_id, request.travel_date, self.name)
        slot = next((s for s in avail.get("slots", ()) if s["code"] == request.slot), None)
        left = int(slot["available"]) if slot else 0
        if left < line.quantity:
            denial = Denial(DenialCode.SOLD_OUT, f"Only {left} left", {"available": left})
            return self.inbound.deny(denial, call.operation)
        body: dict[str, Any] = {}
        answer = self.spec.answer or Answer()
        _put(body, answer.partner_order_id, request.partner_order_id)
        _put(body, answer.available, left)
        return self.inbound.answer("OK", call.operation, body=body)

    async def _find(self, call: Inbound) -> Order | Denial:
        path = self.spec.idempotency_path(call.operation) or (
            self.spec.mapping.partner_order_id if self.spec.mapping else None
        )
        try:
            partner_id = str(get_path(call.body, path)) if path else ""
        except PathError:
            partner_id = ""
        if not partner_id:
            return Denial(DenialCode.INVALID_REQUEST, "partner order id missing")
        order = await self._c.orders.get(channel=self.name, partner_order_id=partner_id)
        if order is None:
            return Denial(DenialCode.UNKNOWN_ORDER, f"no order {partner_id}")
        return order

    def _body(self, order: Order) -> dict[str, Any]:
        return order_body(order, self.spec.answer)

    def _outcome_body(self, outcome: Any) -> dict[str, Any] | None:
        data = outcome.body.get("order") if outcome.ok else None
        return self._body(Order.model_validate(data)) if data else None

    # ------------------------------------------------------------------ callbacks

    def calls_for(self, event: str, order: Order, suffix: str) -> list[PartnerCall]:
        """The spec's callbacks for one hub event on one of this channel's orders."""
        if order.channel != self.name:
            return []
        return [
            PartnerCall(
                partner=self.name,
                kind=kind,
                dedupe_key=f"{self.name}:{kind}:{order.id}:{suffix}",
                payload={"order_id": order.id},
                order_id=order.id,
            )
            for kind, cb in self.spec.callbacks.items()
            if cb.on == event
        ]

    async def deliver(self, call: PartnerCall) -> None:
        """The order as it is NOW (running totals stay right through retries)."""
        if self.outbound is None:
            raise DeliveryError(f"{self.name}: callbacks not configured", retryable=False)
        order = await self._c.orders.get(str(call.payload["order_id"]))
        if order is None:
            raise DeliveryError(
                f"{self.name}: order {call.payload['order_id']} is gone", retryable=False
            )
        await self.outbound.send(self._c.http, call.kind, self._body(order))


class SpecChannelEvents:
    """The pluggy side of spec-only channels: hub events become their callbacks."""

    def __init__(self, channels: Iterable[SpecChannel]) -> None:
        self.channels = list(channels)

    def _calls(self, event: str, order: Order, suffix: str) -> list[PartnerCall]:
        return [c for ch in self.channels for c in ch.calls_for(event, order, suffix)]

    @hookimpl
    def order_confirmed(self, order: Order) -> list[PartnerCall]:
        return self._calls("order_confirmed", order, "confirmed")

    @hookimpl
    def order_cancelled(self, order: Order) -> list[PartnerCall]:
        return self._calls("order_cancelled", order, "cancelled")

    @hookimpl
    def order_refunded(self, order: Order, tickets: list[Ticket]) -> list[PartnerCall]:
        return self._calls(
            "order_refunded", order, "refund-" + ",".join(sorted(t.id for t in tickets))
        )

    @hookimpl
    def ticket_redeemed(
        self, order: Order, ticket: Ticket, redemption: Redemption
    ) -> list[PartnerCall]:
        return self._calls("ticket_redeemed", order, f"redeemed-{redemption.id}")


def spec_channels(
    registry: ChannelRegistry, folders: Iterable[str], *, protocols: Protocols | None = None
) -> list[SpecChannel]:
    """A `SpecChannel` for every spec in `folders` whose name no plugin registered
    (a plugin always wins: it knows more than the spec can say). With ``protocols``
    (the application's plugins' schemes) a scheme no plugin registered fails here, at
    start-up, naming the file and field."""
    added: list[SpecChannel] = []
    for folder in folders:
        if not Path(folder).is_dir():
            raise ConfigError(f"TICKETHUB_CHANNEL_SPECS_DIRS: {folder!r} is not a folder")
        for name, spec in load_all(folder, protocols=protocols).items():
            if registry.find(name) is None:
                channel = SpecChannel(spec)
                registry._set_source(f"spec {folder}/{name}.toml")
                registry.add(name, channel)
                added.append(channel)
    return added

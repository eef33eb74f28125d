"""Ctrip's inbound services, each translated to one move of the hub's order service.

Protocol work (envelope, a–p AES body, MD5 sign, account, result codes) is done before a
handler runs (`hub.channels.adapter.SpecInbound`); a handler maps one Ctrip service onto
``place`` / ``confirm`` / ``cancel`` / ``refund`` and builds Ctrip's answer from the
hub's stored outcome. Every move carries an idempotency key derived from Ctrip's ids, so
Ctrip's three identical retries get byte-identical answers (AES-CBC with a fixed IV is
deterministic) and stock moves once.

When is an answer "pending"? Only when the deployment says so: the setting
``CTRIP_ASYNC_SERVICES`` lists the services Ctrip has been told this supplier confirms
asynchronously (any of PayPreOrder, CreateOrder, CancelOrder, RefundOrder). For those a
SUCCESSFUL move is answered ``supplierConfirmType = 2`` and its result travels in the
matching ``*Confirm`` callback, queued by the order event in the move's own transaction.
The move itself is still done before the answer (durable before acknowledged); a
refusal is always answered at once with Ctrip's code, since there is nothing to confirm.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from hub.domain.order import fingerprint_json
from hub.sdk import ChannelContext, Denial, DenialCode, Order, OrderState
from hub.sdk.channels import ChannelSpec, Inbound, SpecInbound, to_order_request
from plugins.channel_ctrip import bodies, selection
from plugins.channel_ctrip.requests import RequestLog, event_key

Answer = dict[str, Any]
ASYNC_CAPABLE = ("PayPreOrder", "CreateOrder", "CancelOrder", "RefundOrder")
CHANNEL = "ctrip"


def _ota(body: dict[str, Any]) -> str | None:
    value = body.get("otaOrderId")
    return str(value) if value not in (None, "") else None


def async_services(setting: Any) -> frozenset[str]:
    """``CTRIP_ASYNC_SERVICES`` as a set: a list or a comma-separated string."""
    if isinstance(setting, str):
        names = [s.strip() for s in setting.split(",")]
    elif isinstance(setting, (list, tuple, set, frozenset)):
        names = [str(s).strip() for s in setting]
    else:
        names = []
    unknown = [n for n in names if n and n not in ASYNC_CAPABLE]
    if unknown:
        raise ValueError(f"CTRIP_ASYNC_SERVICES: cannot confirm {unknown} asynchronously")
    return frozenset(n for n in names if n)


class CtripServices:
    """The handlers, one per Ctrip service name (see `table`)."""

    def __init__(
        self,
        spec: ChannelSpec,
        inbound: SpecInbound,
        ctx: ChannelContext,
        *,
        pending_for: frozenset[str] = frozenset(),
    ) -> None:
        self.spec = spec
        self.inbound = inbound
        self.ctx = ctx
        self.pending_for = pending_for

    def table(self) -> dict[str, Callable[[Inbound], Awaitable[Answer]]]:
        return {
            "VerifyOrder": self.verify,
            "CreatePreOrder": self.create_pre,
            "PayPreOrder": self.pay,
            "CancelPreOrder": self.cancel_pre,
            "CreateOrder": self.create,
            "CancelOrder": self.cancel,
            "RefundOrder": self.refund,
            "QueryOrder": self.query,
        }

    @property
    def log(self) -> RequestLog:
        return RequestLog(self.ctx.store(CHANNEL))

    # ------------------------------------------------------------------ new orders

    async def verify(self, call: Inbound) -> Answer:
        """Rules, price and stock for the order, holding nothing. Per-ID daily limits
        need the counters inside the order transaction, so only the creating calls check
        them; VerifyOrder is Ctrip's pre-check, not a promise."""
        request = to_order_request(self.spec, call.body, call.operation)
        if isinstance(request, Denial):
            return self.inbound.deny(request, call.operation)
        orders = self.ctx.orders
        refused = await orders.check(request)
        if refused is not None:
            return self.inbound.deny(refused, call.operation)
        line = request.lines[0]
        avail = await orders.availability(line.product_id, request.travel_date, CHANNEL)
        slot = next((s for s in avail.get("slots", ()) if s["code"] == request.slot), None)
        left = slot["available"] if slot else 0
        if left < line.quantity:
            denial = Denial(DenialCode.SOLD_OUT, f"Only {left} left", {"available": left})
            return self.inbound.deny(denial, call.operation)
        body = {"otaOrderId": request.partner_order_id, "inventory": left}
        return self.inbound.answer("OK", call.operation, body=body)

    async def create_pre(self, call: Inbound) -> Answer:
        """Hold the stock; a replay (Ctrip's retry) gets the first answer, held once."""
        return await self._place(call, confirm=False)

    async def create(self, call: Inbound) -> Answer:
        """The older direct mode: a paid order in one step (hold and confirm in one
        transaction), idempotent on ``otaOrderId`` like CreatePreOrder — the two share
        the key, so the same otaOrderId sent to both is a conflict, not two orders."""
        return await self._place(call, confirm=True)

    async def _place(self, call: Inbound, *, confirm: bool) -> Answer:
        request = to_order_request(self.spec, call.body, call.operation, confirm=confirm)
        if isinstance(request, Denial):
            return self.inbound.deny(request, call.operation)
        pending = confirm and call.operation in self.pending_for
        if pending:
            await self._expect(call, event_key("confirmed", request.partner_order_id))
        outcome = await self.ctx.orders.place(request, operation="create")
        return self._answer(outcome, call, pending=pending)

    # ------------------------------------------------------------------ moves

    async def pay(self, call: Inbound) -> Answer:
        """Ctrip was paid: confirm the hold and issue the tickets (idempotent)."""
        order = await self._find(call)
        if isinstance(order, Denial):
            return self.inbound.deny(order, call.operation)
        conflict = await self._claim(call, order, [])
        if conflict is not None:
            return conflict
        pending = call.operation in self.pending_for
        if pending and order.state is OrderState.HELD:
            await self._expect(call, event_key("confirmed", order.partner_order_id))
        key = f"{CHANNEL}\x1fconfirm\x1f{order.partner_order_id}"
        outcome = await self.ctx.orders.confirm(order.id, key=key)
        return self._answer(outcome, call, pending=pending)

    async def cancel_pre(self, call: Inbound) -> Answer:
        """Release an unpaid hold. An expired hold is already released: answered as
        success (what Ctrip wants is that nothing stays held). A paid order is not a
        pre-order any more: CancelOrder is the call for it (2001)."""
        order = await self._find(call)
        if isinstance(order, Denial):
            return self.inbound.deny(order, call.operation)
        if order.state is OrderState.EXPIRED:
            return self.inbound.answer("OK", call.operation, body=bodies.order_body(order))
        if order.state not in (OrderState.HELD, OrderState.CANCELLED):
            denial = Denial(
                DenialCode.INVALID_STATE, f"Order is {order.state.value}: use CancelOrder"
            )
            return self.inbound.deny(denial, call.operation)
        conflict = await self._claim(call, order, [])
        if conflict is not None:
            return conflict
        key = f"{CHANNEL}\x1fcancel\x1f{order.partner_order_id}"
        outcome = await self.ctx.orders.cancel(order.id, key=key)
        return self._answer(outcome, call)

    async def cancel(self, call: Inbound) -> Answer:
        """``cancelType`` 0 cancels everything (a hold is released, a paid order refunded),
        1 cancels ``quantity`` admissions, 2 the named ``passengers``. Used tickets are
        never taken back (2002); an unpaid order is only cancelled whole."""
        return await self._take_back(call, str(call.body.get("cancelType", "0")))

    async def refund(self, call: Inbound) -> Answer:
        """A refund of a paid order: ``passengers`` when named, else ``quantity`` when
        given, else everything unused. Ctrip's refund codes (3001 used, 3002 refused)."""
        body = call.body
        shape = "2" if body.get("passengers") else "1" if body.get("quantity") else "all"
        return await self._take_back(call, shape)

    async def _take_back(self, call: Inbound, shape: str) -> Answer:
        order = await self._find(call)
        if isinstance(order, Denial):
            return self.inbound.deny(order, call.operation)
        if shape not in ("0", "1", "2", "all"):
            denial = Denial(DenialCode.INVALID_REQUEST, f"cancelType {shape} unknown")
            return self.inbound.deny(denial, call.operation)
        seq = str(call.body.get("sequenceId", ""))
        first = await self.log.request(call.operation, order.partner_order_id, seq)
        if first is not None:  # Ctrip's retry: the same move, whatever the state now
            if first.get("fp") != self._fp(call):
                return self._conflict(call)
            if first.get("tickets"):
                return await self._refund(call, order, list(first["tickets"]))
            return await self._release_hold(call, order)
        done = (OrderState.CANCELLED, OrderState.REFUNDED, OrderState.EXPIRED)
        if order.state in (OrderState.HELD, *done):
            if shape in ("1", "2") or call.operation == "RefundOrder":
                why = "not paid" if order.state is OrderState.HELD else order.state.value
                denial = Denial(DenialCode.INVALID_STATE, f"Order is {why}")
                return self.inbound.deny(denial, call.operation)
            if order.state in done:  # cancel-all of what is already gone: nothing to do
                return self.inbound.answer("OK", call.operation, body=bodies.order_body(order))
            return await self._release_hold(call, order)
        chosen = await self._choice(call, order, shape)
        if isinstance(chosen, Denial):
            return self.inbound.deny(chosen, call.operation)
        if isinstance(chosen, dict):
            return chosen  # a conflicting replay
        return await self._refund(call, order, chosen)

    async def _refund(self, call: Inbound, order: Order, chosen: list[str]) -> Answer:
        pending = call.operation in self.pending_for
        if pending:
            await self._expect(call, event_key("refunded", order.partner_order_id, chosen))
        seq = str(call.body.get("sequenceId", ""))
        key = f"{CHANNEL}\x1frefund\x1f{order.partner_order_id}\x1f{call.operation}\x1f{seq}"
        outcome = await self.ctx.orders.refund(order.id, chosen, key=key)
        return self._answer(outcome, call, pending=pending)

    async def _release_hold(self, call: Inbound, order: Order) -> Answer:
        conflict = await self._claim(call, order, [])
        if conflict is not None:
            return conflict
        pending = call.operation in self.pending_for
        if pending:
            await self._expect(call, event_key("cancelled", order.partner_order_id))
        key = f"{CHANNEL}\x1fcancel\x1f{order.partner_order_id}"
        outcome = await self.ctx.orders.cancel(order.id, key=key)
        return self._answer(outcome, call, pending=pending)

    async def _choice(self, call: Inbound, order: Order, shape: str) -> list[str] | Denial | Answer:
        """The tickets a new request takes back, chosen now and remembered before the
        move (a retry must not choose again: see `RequestLog`). Two identical requests
        racing both choose; the first record stands and both use its choice."""
        seq = str(call.body.get("sequenceId", ""))
        if shape == "1":
            chosen = selection.by_quantity(order, call.body.get("quantity"))
        elif shape == "2":
            chosen = selection.by_passengers(order, call.body.get("passengers"))
        else:
            chosen = selection.everything(order)
        if isinstance(chosen, Denial):
            return chosen
        conflict = await self._claim(call, order, chosen)
        if conflict is not None:
            return conflict
        stood = await self.log.request(call.operation, order.partner_order_id, seq)
        return list(stood.get("tickets", chosen)) if stood else chosen

    async def query(self, call: Inbound) -> Answer:
        """The order's state, per-item used and cancelled admissions, and vouchers."""
        order = await self._find(call)
        if isinstance(order, Denial):
            return self.inbound.deny(order, call.operation)
        return self.inbound.answer("OK", call.operation, body=bodies.order_body(order))

    # ------------------------------------------------------------------ helpers

    async def _find(self, call: Inbound) -> Order | Denial:
        ota = _ota(call.body)
        if ota is None:
            return Denial(DenialCode.INVALID_REQUEST, "otaOrderId missing")
        order = await self.ctx.orders.get(channel=CHANNEL, partner_order_id=ota)
        if order is None:
            return Denial(DenialCode.UNKNOWN_ORDER, f"no order {ota}")
        return order  # type: ignore[no-any-return]

    @staticmethod
    def _fp(call: Inbound) -> str:
        return fingerprint_json(call.body)

    async def _claim(self, call: Inbound, order: Order, tickets: list[str]) -> Answer | None:
        """Record the request (ids → body fingerprint, tickets); a conflict answer when
        the same ids came before with another body."""
        seq = str(call.body.get("sequenceId", ""))
        doc = {"fp": self._fp(call), "tickets": tickets}
        stood = await self.log.claim(call.operation, order.partner_order_id, seq, doc)
        if stood.get("fp") != doc["fp"]:
            return self._conflict(call)
        return None

    def _conflict(self, call: Inbound) -> Answer:
        detail = "same otaOrderId and sequenceId, different request"
        return self.inbound.answer("IDEMPOTENCY_CONFLICT", call.operation, detail=detail)

    async def _expect(self, call: Inbound, event: str) -> None:
        """Remember that this request will be answered "pending" (before the move)."""
        body = call.body
        await self.log.expect_confirm(
            event,
            {
                "service": call.operation,
                "sequenceId": str(body.get("sequenceId", "")),
                "otaOrderId": str(body.get("otaOrderId", "")),
                "lastConfirmTime": str(body.get("lastConfirmTime", "")),
            },
        )

    def _answer(self, outcome: Any, call: Inbound, *, pending: bool = False) -> Answer:
        data = outcome.body.get("order") if outcome.ok else None
        if not data:
            return self.inbound.outcome(outcome, call.operation, None)
        order = Order.model_validate(data)
        if pending:
            body = bodies.pending_body(order.partner_order_id, order.id)
        else:
            body = bodies.order_body(order)
        return self.inbound.outcome(outcome, call.operation, body)

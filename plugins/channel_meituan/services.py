"""Meituan's calls, each translated to one move of the hub's order service.

Protocol work (MWS auth, the request-time window, global encryption, the envelope,
result codes) is done before a handler runs (`hub.channels.adapter.SpecInbound`); a
handler maps one Meituan call onto ``place`` / ``confirm`` / ``cancel`` / ``refund`` and
builds the answer body from the hub's stored outcome. Every move carries an idempotency
key derived from Meituan's ids, so Meituan's retries get the first answer and stock
moves once:

``create``  hold; key = Meituan ``orderId`` (a replay returns the existing order, a
            changed body is a conflict)
``pay``     confirm and issue: the answer carries the vouchers — or, with
            ``MEITUAN_ASYNC_ISSUE``, 598 "issuing in progress" until Meituan took the
            voucher notice (the tickets are issued before either answer)
``query``   the order as it is now
``refund``  full or by ``refundQuantity``; key = ``(orderId, refundId)``
``close``   release an unpaid hold (an expired or closed one is already released)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from hub.domain.order import fingerprint_json
from hub.sdk import ChannelContext, Denial, DenialCode, Order, OrderState
from hub.sdk.channels import ChannelSpec, Inbound, SpecInbound, to_order_request
from plugins.channel_meituan import bodies, stock
from plugins.channel_meituan.callbacks import ISSUED
from plugins.channel_meituan.refunds import RefundLog, choose

Answer = dict[str, Any]
CHANNEL = "meituan"


class MeituanServices:
    """The handlers, one per operation name of the spec (see `table`)."""

    def __init__(
        self,
        spec: ChannelSpec,
        inbound: SpecInbound,
        ctx: ChannelContext,
        *,
        async_issue: bool = False,
    ) -> None:
        self.spec = spec
        self.inbound = inbound
        self.ctx = ctx
        self.async_issue = async_issue

    def table(self) -> dict[str, Callable[[Inbound], Awaitable[Answer]]]:
        return {
            "create": self.create,
            "pay": self.pay,
            "query": self.query,
            "refund": self.refund,
            "close": self.close,
            "price_calendar": self.price_calendar,
        }

    # ------------------------------------------------------------------ calls

    async def create(self, call: Inbound) -> Answer:
        """Hold the stock; idempotent on Meituan's ``orderId``."""
        request = to_order_request(self.spec, call.body, call.operation)
        if isinstance(request, Denial):
            return self.inbound.deny(request, call.operation)
        outcome = await self.ctx.orders.place(request, operation="create")
        return self._answer(outcome, call)

    async def pay(self, call: Inbound) -> Answer:
        """Meituan was paid: confirm the hold and issue the tickets (vouchers). The
        visitor's money is already taken, so a hold that ran out is revived when its
        stock is still there; when it is gone the answer is 506 and Meituan refunds."""
        order = await self._find(call)
        if isinstance(order, Denial):
            return self.inbound.deny(order, call.operation)
        key = f"{CHANNEL}\x1fpay\x1f{order.partner_order_id}"
        outcome = await self.ctx.orders.confirm_paid(order.id, key=key)
        if self.async_issue and outcome.ok:
            store = self.ctx.store(CHANNEL)
            if await store.get(ISSUED, order.id) is None:  # Meituan has not heard yet
                body = bodies.pending_body(order)
                return self.inbound.answer("PENDING", call.operation, body=body)
        return self._answer(outcome, call)

    async def price_calendar(self, call: Inbound) -> Answer:
        """Meituan pulls the price/stock calendar (after our notice): live stock."""
        return await stock.answer_calendar(self, call)

    async def query(self, call: Inbound) -> Answer:
        order = await self._find(call)
        if isinstance(order, Denial):
            return self.inbound.deny(order, call.operation)
        return self.inbound.answer("OK", call.operation, body=bodies.order_body(order))

    async def close(self, call: Inbound) -> Answer:
        """Release an unpaid hold. Already released (closed, expired): success, since
        what Meituan wants is that nothing stays held. A paid order is refunded, not
        closed (506)."""
        order = await self._find(call)
        if isinstance(order, Denial):
            return self.inbound.deny(order, call.operation)
        if order.state in (OrderState.CANCELLED, OrderState.EXPIRED):
            return self.inbound.answer("OK", call.operation, body=bodies.order_body(order))
        if order.state is not OrderState.HELD:
            denial = Denial(DenialCode.INVALID_STATE, f"Order is {order.state.value}: refund it")
            return self.inbound.deny(denial, call.operation)
        key = f"{CHANNEL}\x1fclose\x1f{order.partner_order_id}"
        outcome = await self.ctx.orders.cancel(order.id, key=key)
        return self._answer(outcome, call)

    async def refund(self, call: Inbound) -> Answer:
        """A refund of a paid order, whole or ``refundQuantity`` admissions; used tickets
        are never refunded (606), any other refusal is 699. Idempotent on refundId."""
        order = await self._find(call)
        if isinstance(order, Denial):
            return self.inbound.deny(order, call.operation)
        refund_id = str(call.body.get("refundId") or "")
        if not refund_id:
            denial = Denial(DenialCode.INVALID_REQUEST, "refundId missing")
            return self.inbound.deny(denial, call.operation)
        log = RefundLog(self.ctx.store(CHANNEL))
        fp = fingerprint_json(call.body)
        first = await log.request(order.partner_order_id, refund_id)
        if first is None:
            if order.state in (OrderState.HELD, OrderState.CANCELLED, OrderState.EXPIRED):
                why = "not paid" if order.state is OrderState.HELD else order.state.value
                denial = Denial(DenialCode.INVALID_STATE, f"Order is {why}")
                return self.inbound.deny(denial, call.operation)
            chosen = choose(order, call.body.get("refundQuantity"))
            if isinstance(chosen, Denial):
                return self.inbound.deny(chosen, call.operation)
            asked = str(call.body.get("requestTime") or bodies.beijing(self.ctx.clock.now()))
            doc = {"fp": fp, "tickets": chosen, "requestTime": asked}
            first = await log.claim(order.partner_order_id, refund_id, doc)
        if first.get("fp") != fp:
            detail = "same orderId and refundId, different request"
            return self.inbound.answer("IDEMPOTENCY_CONFLICT", call.operation, detail=detail)
        key = f"{CHANNEL}\x1frefund\x1f{order.partner_order_id}\x1f{refund_id}"
        outcome = await self.ctx.orders.refund(order.id, list(first["tickets"]), key=key)
        answer = self._answer(outcome, call)
        body = answer.get("body")
        if isinstance(body, dict):
            body["refundId"] = refund_id
            body["refundQuantity"] = sum(
                t["quantity"]
                for t in body.get("vouchers", ())
                if t["voucherId"] in first["tickets"]
            )
        return answer

    # ------------------------------------------------------------------ helpers

    async def _find(self, call: Inbound) -> Order | Denial:
        value = call.body.get("orderId")
        if value in (None, ""):
            return Denial(DenialCode.INVALID_REQUEST, "orderId missing")
        order = await self.ctx.orders.get(channel=CHANNEL, partner_order_id=str(value))
        if order is None:
            return Denial(DenialCode.UNKNOWN_ORDER, f"no order {value}")
        return order  # type: ignore[no-any-return]

    def _answer(self, outcome: Any, call: Inbound) -> Answer:
        data = outcome.body.get("order") if outcome.ok else None
        body = bodies.order_body(Order.model_validate(data)) if data else None
        return self.inbound.outcome(outcome, call.operation, body)

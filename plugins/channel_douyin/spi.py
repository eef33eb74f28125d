"""Douyin's scenic SPIs, each translated to one move of the hub's order service.

Signature, request time, body size and the ``{"data": {"error_code", "description"}}``
answers come from ``plugins/channel_douyin/douyin.toml`` through `hub.channels.adapter`; a handler
here maps one SPI onto ``check`` / ``place`` / ``confirm_paid`` / ``cancel`` / ``refund``.
Every move carries an idempotency key built from Douyin's ids, so Douyin's retries
(create order: 12 times a minute apart, each with a new ``timestamp`` and signature but
the same body) get the first answer and move stock once.

``error_code`` 100 ("please retry") is only ever answered for a transient hub error (an
exception, the ``can_buy`` budget running out); every business refusal is a final code.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hub.domain.order import TicketState, fingerprint_json
from hub.sdk import ChannelContext, Denial, DenialCode, Order, OrderState
from hub.sdk.channels import ChannelSpec, Inbound, SpecInbound, to_order_request
from plugins.channel_douyin import stock

log = logging.getLogger(__name__)

Answer = dict[str, Any]
CHANNEL = "douyin"
QUERY_MAX = 100
BUDGET_MARGIN = 0.3
"""Seconds kept from ``can_buy``'s deadline for the answer to travel back."""
REFUND_RULES = ("unused", "before_visit", "never")
AUDIT_APPROVE, AUDIT_REFUSE = 1, 2
RETENTION = timedelta(days=120)
VENUE_TZ = ZoneInfo("Asia/Shanghai")


def _key(*parts: str) -> str:
    return "\x1f".join((CHANNEL, *parts))


def _str(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    return str(value) if value not in (None, "") else None


class DouyinSpi:
    """The handlers, one per SPI (see `table`)."""

    def __init__(
        self,
        spec: ChannelSpec,
        inbound: SpecInbound,
        ctx: ChannelContext,
        *,
        refund_rule: str = "unused",
    ) -> None:
        if refund_rule not in REFUND_RULES:
            raise ValueError(f"DOUYIN_REFUND_RULE must be one of {REFUND_RULES}")
        self.spec = spec
        self.inbound = inbound
        self.ctx = ctx
        self.refund_rule = refund_rule

    def table(self) -> dict[str, Callable[[Inbound], Awaitable[Answer]]]:
        return {
            "can_buy": self.can_buy,
            "create_order": self.create_order,
            "pay_notify": self.pay_notify,
            "cancel_notify": self.cancel_notify,
            "refund_audit": self.refund_audit,
            "refund_notify": self.refund_notify,
            "query": self.query,
            "stock_calendar": self.stock_calendar,
        }

    async def stock_calendar(self, call: Inbound) -> Answer:
        """Douyin pulls price and stock (it is a pull-only partner): live stock."""
        return await stock.answer(self, call)

    def _deny(self, call: Inbound, code: DenialCode, reason: str) -> Answer:
        return self.inbound.deny(Denial(code, reason), call.operation)

    # ------------------------------------------------------------------ buying

    async def can_buy(self, call: Inbound) -> Answer:
        """Rules, price and stock, holding nothing, inside Douyin's 2 s budget. Running
        out of budget is our problem, not the buyer's: 100 (retry), never a refusal."""
        op = self.spec.operations[call.operation]
        budget = max(0.1, op.deadline_seconds - BUDGET_MARGIN)
        try:
            async with asyncio.timeout(budget):
                return await self._can_buy(call)
        except TimeoutError:
            log.warning("douyin can_buy over its %.1f s budget", budget)
            return self.inbound.answer("INTERNAL", call.operation, detail="busy")

    async def _can_buy(self, call: Inbound) -> Answer:
        body = dict(call.body)
        body.setdefault("order_id", "can_buy")  # asked before Douyin has an order id
        request = to_order_request(self.spec, body, call.operation)
        if isinstance(request, Denial):
            return self.inbound.deny(request, call.operation)
        refused = await self.ctx.orders.check(request)
        if refused is not None:
            return self.inbound.deny(refused, call.operation)
        line = request.lines[0]
        avail = await self.ctx.orders.availability(line.product_id, request.travel_date, CHANNEL)
        slot = next((s for s in avail.get("slots", ()) if s["code"] == request.slot), None)
        left = int(slot["available"]) if slot else 0
        if left < line.quantity:
            denial = Denial(DenialCode.SOLD_OUT, f"Only {left} left", {"available": left})
            return self.inbound.deny(denial, call.operation)
        return self.inbound.answer("OK", call.operation, body={"stock": left})

    async def create_order(self, call: Inbound) -> Answer:
        """Hold the stock and give Douyin our ``out_order_id``. Idempotent on Douyin's
        ``order_id``: its retries get the same ``out_order_id``; the same id with a
        changed body is refused (a conflict, nothing written)."""
        request = to_order_request(self.spec, call.body, call.operation)
        if isinstance(request, Denial):
            return self.inbound.deny(request, call.operation)
        outcome = await self.ctx.orders.place(request, operation="create")
        return self._answer(outcome, call)

    async def pay_notify(self, call: Inbound) -> Answer:
        """Douyin took the money: confirm the hold and issue the vouchers (a late
        payment after the hold expired still confirms while the stock is there)."""
        order = await self._find(call)
        if isinstance(order, Denial):
            return self.inbound.deny(order, call.operation)
        outcome = await self.ctx.orders.confirm_paid(
            order.id, key=_key("pay", order.partner_order_id)
        )
        return self._answer(outcome, call)

    # ------------------------------------------------------------------ undoing

    async def cancel_notify(self, call: Inbound) -> Answer:
        """``cancel_type`` 1 before payment and 3 "create failed" release the hold (an
        order we never created, or one already released, is simply acknowledged); 2
        after payment takes back every unused voucher."""
        kind = _str(call.body, "cancel_type")
        if kind not in ("1", "2", "3"):
            return self._deny(call, DenialCode.INVALID_REQUEST, f"cancel_type {kind} unknown")
        order = await self._find(call)
        if isinstance(order, Denial):
            if kind != "2" and order.code is DenialCode.UNKNOWN_ORDER:
                return self.inbound.answer("OK", call.operation)  # nothing was held
            return self.inbound.deny(order, call.operation)
        gone = (OrderState.CANCELLED, OrderState.EXPIRED, OrderState.REFUNDED)
        if order.state in gone:
            return self.inbound.answer("OK", call.operation, body=self._order_body(order))
        if kind in ("1", "3"):
            if order.state is not OrderState.HELD:
                return self._deny(
                    call, DenialCode.INVALID_STATE, f"order is {order.state.value}: paid"
                )
            outcome = await self.ctx.orders.cancel(
                order.id, key=_key("cancel", order.partner_order_id)
            )
            return self._answer(outcome, call)
        if order.state is OrderState.HELD:
            return self._deny(call, DenialCode.INVALID_STATE, "order is not paid")
        unused = self._unused(order)
        if not unused:
            return self._deny(call, DenialCode.ALREADY_REDEEMED, "every voucher was used")
        outcome = await self.ctx.orders.refund(
            order.id, unused, key=_key("cancel-paid", order.partner_order_id)
        )
        return self._answer(outcome, call)

    async def refund_audit(self, call: Inbound) -> Answer:
        """Approve or refuse a buyer's refund by the refund rules. An approval takes the
        vouchers back at once (they must not open a gate while Douyin pays the money
        back); the decision is stored before the move, so Douyin's retries of this
        audit get the same decision and the same vouchers."""
        order = await self._find(call)
        if isinstance(order, Denial):
            return self.inbound.deny(order, call.operation)
        after_sale = _str(call.body, "after_sale_id")
        if after_sale is None:
            return self._deny(call, DenialCode.INVALID_REQUEST, "after_sale_id missing")
        store = self.ctx.store(CHANNEL)
        key = _key("audit", order.partner_order_id, after_sale)
        decision = self._decide(order, call.body)
        decision["fp"] = fingerprint_json(call.body)
        if not await store.add("audit", key, decision, ttl=RETENTION):
            first = await store.get("audit", key)
            if first is not None and first.get("fp") != decision["fp"]:
                return self._deny(
                    call, DenialCode.IDEMPOTENCY_CONFLICT, "after_sale_id reused with another body"
                )
            decision = first or decision
        body = {"out_order_id": order.id, "audit_result": decision["result"]}
        if decision["result"] == AUDIT_REFUSE:
            return self.inbound.answer("OK", call.operation, body={**body, **_reason(decision)})
        outcome = await self.ctx.orders.refund(
            order.id, decision["tickets"], key=_key("refund", order.partner_order_id, after_sale)
        )
        if not outcome.ok:
            return self.inbound.outcome(outcome, call.operation)
        return self.inbound.answer("OK", call.operation, body=body)

    def _decide(self, order: Order, body: dict[str, Any]) -> dict[str, Any]:
        """Which vouchers a refund takes (``codes`` named, else ``count``, else every
        unused one) and whether the rules allow it."""
        if order.state not in (OrderState.CONFIRMED, OrderState.PARTLY_REDEEMED):
            return {"result": AUDIT_REFUSE, "reason": f"order is {order.state.value}"}
        if self.refund_rule == "never":
            return {"result": AUDIT_REFUSE, "reason": "this product cannot be refunded"}
        today = self.ctx.clock.now().astimezone(VENUE_TZ).date()
        if self.refund_rule == "before_visit" and today >= order.travel_date:
            return {"result": AUDIT_REFUSE, "reason": "refunds close on the visit day"}
        unused = self._unused(order)
        codes = body.get("codes")
        if isinstance(codes, list) and codes:
            by_code = {t.credential: t for t in order.tickets}
            wanted = [by_code.get(str(c)) for c in codes]
            if any(t is None for t in wanted):
                return {"result": AUDIT_REFUSE, "reason": "voucher not in this order"}
            if any(t.id not in unused for t in wanted if t is not None):
                return {"result": AUDIT_REFUSE, "reason": "voucher already used or refunded"}
            chosen = [t.id for t in wanted if t is not None]
        else:
            count = body.get("count")
            n = len(unused) if count in (None, "") else _int(count)
            if n is None or n < 1:
                return {"result": AUDIT_REFUSE, "reason": f"count {count!r} invalid"}
            if n > len(unused):
                return {"result": AUDIT_REFUSE, "reason": f"only {len(unused)} vouchers unused"}
            chosen = unused[:n]
        return {"result": AUDIT_APPROVE, "tickets": chosen}

    async def refund_notify(self, call: Inbound) -> Answer:
        """Douyin's refund result. Success after our approval changes nothing (the
        vouchers were taken back at the audit); success without an audit (a product
        Douyin refunds on its own) takes back every unused voucher; a FAILED refund is
        recorded for an operator — the vouchers stay revoked, the buyer must be helped."""
        order = await self._find(call)
        if isinstance(order, Denial):
            return self.inbound.deny(order, call.operation)
        after_sale = _str(call.body, "after_sale_id")
        status = _str(call.body, "status")
        if after_sale is None or status not in ("1", "2"):
            return self._deny(call, DenialCode.INVALID_REQUEST, "after_sale_id/status invalid")
        store = self.ctx.store(CHANNEL)
        audited = await store.get("audit", _key("audit", order.partner_order_id, after_sale))
        if status == "2":
            log.warning("douyin refund %s of order %s FAILED at Douyin", after_sale, order.id)
            doc = {"order_id": order.id, "after_sale_id": after_sale}
            await store.put("refund_failed", _key(order.partner_order_id, after_sale), doc)
            return self.inbound.answer("OK", call.operation, body=self._order_body(order))
        if audited is None and order.state in (OrderState.CONFIRMED, OrderState.PARTLY_REDEEMED):
            unused = self._unused(order)
            if unused:
                outcome = await self.ctx.orders.refund(
                    order.id, unused, key=_key("refund", order.partner_order_id, after_sale)
                )
                return self._answer(outcome, call)
        return self.inbound.answer("OK", call.operation, body=self._order_body(order))

    # ------------------------------------------------------------------ reading

    async def query(self, call: Inbound) -> Answer:
        """Up to 100 orders by Douyin's ids; unknown ids are listed as not found."""
        ids = call.body.get("order_ids")
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
            return self._deny(call, DenialCode.INVALID_REQUEST, "order_ids must list ids")
        if len(ids) > QUERY_MAX:
            return self._deny(call, DenialCode.INVALID_REQUEST, f"at most {QUERY_MAX} ids")
        orders = []
        for partner_id in dict.fromkeys(ids):
            order = await self.ctx.orders.get(channel=CHANNEL, partner_order_id=partner_id)
            if order is None:
                orders.append({"order_id": partner_id, "exists": False})
            else:
                orders.append({**self._order_body(order), "exists": True})
        return self.inbound.answer("OK", call.operation, body={"orders": orders})

    # ------------------------------------------------------------------ helpers

    async def _find(self, call: Inbound) -> Order | Denial:
        partner_id = _str(call.body, "order_id")
        if partner_id is None:
            return Denial(DenialCode.INVALID_REQUEST, "order_id missing")
        order = await self.ctx.orders.get(channel=CHANNEL, partner_order_id=partner_id)
        if order is None:
            return Denial(DenialCode.UNKNOWN_ORDER, f"no order {partner_id}")
        ours = _str(call.body, "out_order_id")
        if ours is not None and ours != order.id:
            return Denial(DenialCode.UNKNOWN_ORDER, f"out_order_id {ours} is not {partner_id}")
        return order  # type: ignore[no-any-return]

    @staticmethod
    def _unused(order: Order) -> list[str]:
        return sorted(
            t.id for t in order.tickets if t.state is TicketState.VALID and not t.entries_used
        )

    @staticmethod
    def _order_body(order: Order) -> dict[str, Any]:
        used = sum(t.units for t in order.tickets if t.entries_used)
        refunded = sum(t.units for t in order.tickets if t.state is TicketState.REVOKED)
        return {
            "order_id": order.partner_order_id,
            "out_order_id": order.id,
            "order_status": order.state.value,
            "count": order.quantity,
            "used_count": used,
            "refunded_count": refunded,
            "use_date": order.travel_date.isoformat(),
            "codes": [
                {"code": t.credential, "ticket_id": t.id, "status": t.state.value}
                for t in sorted(order.tickets, key=lambda t: (t.visitor_index or 0, t.id))
            ],
        }

    def _answer(self, outcome: Any, call: Inbound) -> Answer:
        data = outcome.body.get("order") if outcome.ok else None
        if not data:
            return self.inbound.outcome(outcome, call.operation, None)
        return self.inbound.outcome(
            outcome, call.operation, self._order_body(Order.model_validate(data))
        )


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _reason(decision: dict[str, Any]) -> dict[str, Any]:
    return {"reason": str(decision.get("reason", ""))}

"""Ctrip's inbound services on one POST route, translated to the hub's order service.

Everything protocol-level (envelope, a–p AES body, MD5 sign, account, result codes) is
`SpecInbound`'s job; here is only what ``ctrip.toml`` cannot say: which service maps to
which order move, Ctrip's ``cancelType``, and the shapes of Ctrip's answers. Ctrip retries
a call three times and expects the same answer, so every move is idempotent on Ctrip's
``otaOrderId`` and the answer body is built only from the stored outcome (AES-CBC with a
fixed IV is deterministic: the same outcome gives the same cipher).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from hub import ChannelContext, DeliveryError, PartnerCall
from hub.channels import ChannelSpec, load_all
from hub.channels.adapter import Inbound, Refusal, SecretsMissing, SpecInbound, to_order_request
from hub.domain import Denial, DenialCode, Order, OrderState
from hub.orders.outcome import Outcome

log = logging.getLogger(__name__)

Handler = Callable[[Inbound], Awaitable[dict[str, Any]]]


def _order_id(body: Any) -> str | None:
    value = body.get("otaOrderId") if isinstance(body, dict) else None
    return str(value) if value else None


class CtripChannel:
    name = "ctrip"

    def __init__(self, spec: ChannelSpec | None = None) -> None:
        self.spec = spec or load_all()["ctrip"]
        self.ctx: ChannelContext | None = None
        self.inbound: SpecInbound | None = None
        self._handlers: dict[str, Handler] = {
            "VerifyOrder": self._verify,
            "CreatePreOrder": self._create,
            "PayPreOrder": self._pay,
            "CancelOrder": self._cancel,
            "QueryOrder": self._query,
        }

    async def deliver(self, call: PartnerCall) -> None:
        # Callbacks (*Confirm, OrderConsumedNotice) are not built yet: nothing queues them.
        raise DeliveryError(f"ctrip callbacks not implemented ({call.kind})", retryable=False)

    def setup(self, ctx: ChannelContext) -> None:
        self.ctx = ctx
        try:
            self.inbound = SpecInbound(self.spec, ctx.settings)
        except SecretsMissing as exc:
            # A hub without Ctrip credentials must still start; Ctrip gets its own
            # "supplier system error" code until the channel is configured.
            log.warning("ctrip channel not configured: %s", exc)

        @ctx.routes.post(
            f"/api/channels/{self.name}",
            summary="Ctrip supplier API (all services; operation in header.serviceName)",
            tag="ctrip",
            responses={200: "always: Ctrip's result code is in header.resultCode"},
        )
        async def endpoint(request: web.Request) -> web.Response:
            try:
                raw = await request.read()
            except web.HTTPRequestEntityTooLarge:
                # Over the hub's own body limit: still an answer in Ctrip's envelope.
                return web.json_response(self.too_large())
            return web.json_response(await self.handle(raw))

    def too_large(self) -> dict[str, Any]:
        if self.inbound is None:
            code, message = self.spec.result("INTERNAL")
            return {"header": {"resultCode": code, "resultMessage": f"{message}: not configured"}}
        return self.inbound.answer("PARSE_ERROR", detail="body too large")

    async def handle(self, raw: bytes) -> dict[str, Any]:
        """One Ctrip call to its answer document; never raises (Ctrip reads codes)."""
        if self.inbound is None:
            code, message = self.spec.result("INTERNAL")
            return {"header": {"resultCode": code, "resultMessage": f"{message}: not configured"}}
        inbound = self.inbound
        got = inbound.read(raw)
        if isinstance(got, Refusal):
            return inbound.refuse(got)
        handler = self._handlers.get(got.operation)
        if handler is None:
            return inbound.answer("INVALID_REQUEST", detail=f"unsupported {got.operation}")
        if not isinstance(got.body, dict):
            return inbound.answer("PARSE_ERROR", got.operation, detail="body is not an object")
        try:
            return await handler(got)
        except Exception:
            log.exception("ctrip %s failed", got.operation)
            return inbound.answer("INTERNAL", got.operation)

    # ------------------------------------------------------------------ services

    @property
    def _c(self) -> ChannelContext:
        assert self.ctx is not None
        return self.ctx

    async def _verify(self, call: Inbound) -> dict[str, Any]:
        """Rules, price and stock for the order, holding nothing. Per-ID daily limits
        need the counters inside the order transaction, so only CreatePreOrder checks
        them; VerifyOrder is Ctrip's pre-check, not a promise."""
        assert self.inbound is not None
        request = to_order_request(self.spec, call.body, call.operation)
        if isinstance(request, Denial):
            return self.inbound.deny(request, call.operation)
        orders = self._c.orders
        refused = await orders.check(request)
        if refused is not None:
            return self.inbound.deny(refused, call.operation)
        line = request.lines[0]
        avail = await orders.availability(line.product_id, request.travel_date, self.name)
        slot = next((s for s in avail.get("slots", ()) if s["code"] == request.slot), None)
        left = slot["available"] if slot else 0
        if left < line.quantity:
            denial = Denial(DenialCode.SOLD_OUT, f"Only {left} left", {"available": left})
            return self.inbound.deny(denial, call.operation)
        body = {"otaOrderId": request.partner_order_id, "inventory": left}
        return self.inbound.answer("OK", call.operation, body=body)

    async def _create(self, call: Inbound) -> dict[str, Any]:
        """Hold the stock; a replay (Ctrip's retry) gets the first answer, held once."""
        assert self.inbound is not None
        request = to_order_request(self.spec, call.body, call.operation)
        if isinstance(request, Denial):
            return self.inbound.deny(request, call.operation)
        outcome = await self._c.orders.place(request, operation="create")
        return self._order_answer(outcome, call)

    async def _pay(self, call: Inbound) -> dict[str, Any]:
        """Ctrip was paid: confirm the hold and issue the tickets (idempotent)."""
        return await self._move(call, "confirm", lambda order: "confirm")

    async def _cancel(self, call: Inbound) -> dict[str, Any]:
        """cancelType 0 cancels everything: a hold is cancelled, a paid order refunded.
        The move is chosen from the state so a retry after success picks the same move
        and gets the first answer."""
        assert self.inbound is not None
        cancel_type = str(call.body.get("cancelType", "0"))
        if cancel_type != "0":
            detail = f"cancelType {cancel_type} not supported: only 0 (cancel all)"
            return self.inbound.answer("INVALID_REQUEST", call.operation, detail=detail)

        def move(order: Order) -> str:
            held = {OrderState.HELD, OrderState.CANCELLED, OrderState.EXPIRED}
            return "cancel" if order.state in held else "refund"

        return await self._move(call, "cancel", move)

    async def _move(
        self, call: Inbound, label: str, choose: Callable[[Order], str]
    ) -> dict[str, Any]:
        assert self.inbound is not None
        order = await self._find(call)
        if isinstance(order, Denial):
            return self.inbound.deny(order, call.operation)
        method = choose(order)
        key = f"{self.name}\x1f{method}\x1f{order.partner_order_id}"
        outcome: Outcome = await getattr(self._c.orders, method)(order.id, key=key)
        return self._order_answer(outcome, call)

    async def _query(self, call: Inbound) -> dict[str, Any]:
        """The order's state and its tickets' voucher codes."""
        assert self.inbound is not None
        order = await self._find(call)
        if isinstance(order, Denial):
            return self.inbound.deny(order, call.operation)
        return self.inbound.answer("OK", call.operation, body=self._order_body(order))

    # ------------------------------------------------------------------ helpers

    async def _find(self, call: Inbound) -> Order | Denial:
        ota_id = _order_id(call.body)
        if ota_id is None:
            return Denial(DenialCode.INVALID_REQUEST, "otaOrderId missing")
        order = await self._c.orders.get(channel=self.name, partner_order_id=ota_id)
        if order is None:
            return Denial(DenialCode.UNKNOWN_ORDER, f"no order {ota_id}")
        return order

    def _order_answer(self, outcome: Outcome, call: Inbound) -> dict[str, Any]:
        assert self.inbound is not None
        data = outcome.body.get("order") if outcome.ok else None
        body = self._order_body(Order.model_validate(data)) if data else None
        return self.inbound.outcome(outcome, call.operation, body)

    @staticmethod
    def _order_body(order: Order) -> dict[str, Any]:
        return {
            "otaOrderId": order.partner_order_id,
            "supplierOrderId": order.id,
            "orderStatus": order.state.value,
            "quantity": order.quantity,
            "vouchers": [
                {"voucherId": t.id, "voucherCode": t.credential, "status": t.state.value}
                for t in order.tickets
            ],
        }

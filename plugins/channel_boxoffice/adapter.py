"""Box-office HTTP API: availability, hold or sell, confirm (paid at the counter), cancel,
refund, and the order with its QR tickets. Staff authenticate with a bearer token.

A counter terminal retries on a flaky network, so order creation is idempotent on the
``Idempotency-Key`` header (the terminal's own sale number)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from hub.domain import Contact, Order, OrderLine, Visitor
from hub.sdk import ChannelContext, DeliveryError, OrderRequest, PartnerCall
from hub.sdk.web import NO_BODY, ApiError, outcome_response, query_day, read_model


class OrderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    travel_date: date
    slot: str = Field(default="", max_length=32)
    lines: list[OrderLine] = Field(min_length=1, max_length=20)
    visitors: list[Visitor] = Field(default_factory=list, max_length=1000)
    contact: Contact | None = None
    amount: int | None = Field(default=None, ge=0)
    confirm: bool = Field(default=False, description="paid at the counter: sell at once")


class RefundIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ticket_ids: list[str] | None = Field(default=None, max_length=1000)


class ConfirmIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    payment_ref: str = Field(default="", max_length=64)


class SlotOut(BaseModel):
    code: str
    start: str
    end: str
    available: int = Field(description="what one order from the box office can still get")
    price: int | None = Field(description="fen per unit; null: not sold to the box office")


class AvailabilityOut(BaseModel):
    product_id: str
    date: date
    slots: list[SlotOut]


class OrderOut(BaseModel):
    """An order with its tickets (their ``credential`` is the QR payload). A refund adds
    ``refunded_tickets`` and ``refunded_amount``."""

    order: Order


MOVE: dict[int, str] = {
    200: "moved (or a replay)",
    404: "unknown order",
    409: "not in a state that allows it",
}
IDEMPOTENCY = {
    "Idempotency-Key": "the terminal's own sale number (≤ 128): a retry with the same key "
    "and body answers the first outcome (header Idempotent-Replay: true)"
}


class BoxOfficeChannel:
    name = "boxoffice"

    def __init__(self) -> None:
        self.ctx: ChannelContext | None = None

    async def deliver(self, call: PartnerCall) -> None:
        # The box office has no partner to call back; nothing should ever be queued for it.
        raise DeliveryError(f"box office has no partner calls ({call.kind})", retryable=False)

    def _auth(self, request: web.Request) -> ChannelContext:
        assert self.ctx is not None
        self.ctx.require_staff(request, "boxoffice")
        return self.ctx

    def setup(self, ctx: ChannelContext) -> None:
        self.ctx = ctx
        r = ctx.routes
        tag, auth = "boxoffice", "boxoffice"

        @r.get(
            "/api/boxoffice/availability",
            summary="Slots of a day and what is left",
            tag=tag,
            auth=auth,
            query={"product_id": "product", "date": "YYYY-MM-DD"},
            responses={200: "slots", 404: "unknown product"},
            response=AvailabilityOut,
        )
        async def availability(request: web.Request) -> web.Response:
            c = self._auth(request)
            day = query_day(request)
            product_id = request.query.get("product_id")
            if not product_id:
                raise ApiError(400, "INVALID_REQUEST", "product_id is required")
            body = await c.orders.availability(product_id, day, self.name)
            return web.json_response(body, status=404 if "code" in body else 200)

        @r.post(
            "/api/boxoffice/orders",
            summary="Hold an order, or sell it at once (confirm=true)",
            tag=tag,
            auth=auth,
            body=OrderIn,
            headers=IDEMPOTENCY,
            responses={
                200: "a replay of an earlier sale (Idempotent-Replay: true)",
                201: "held or sold",
                409: "sold out / conflicting replay",
                422: "a field (INVALID_REQUEST) or a rule denial",
            },
            response=OrderOut,
        )
        async def create(request: web.Request) -> web.Response:
            c = self._auth(request)
            body = await read_model(request, OrderIn)
            key = request.headers.get("Idempotency-Key", "").strip() or f"auto-{uuid.uuid4().hex}"
            if len(key) > 128:
                raise ApiError(400, "INVALID_REQUEST", "Idempotency-Key longer than 128")
            order = OrderRequest(
                channel=self.name,
                partner_order_id=key,
                lines=tuple(body.lines),
                visitors=tuple(body.visitors),
                contact=body.contact,
                travel_date=body.travel_date,
                slot=body.slot,
                amount=body.amount,
                confirm=body.confirm,
            )
            return outcome_response(await c.orders.place(order))

        @r.get(
            "/api/boxoffice/orders/{order_id}",
            summary="An order with its tickets",
            tag=tag,
            auth=auth,
            responses={200: "order", 404: "unknown"},
            response=OrderOut,
        )
        async def get(request: web.Request) -> web.Response:
            c = self._auth(request)
            order = await c.orders.get(request.match_info["order_id"])
            if order is None or order.channel != self.name:
                raise ApiError(404, "UNKNOWN_ORDER", "No such order")
            return web.json_response({"order": order.model_dump(mode="json")})

        async def _move(request: web.Request, op: str, **kw: Any) -> web.Response:
            c = self._auth(request)
            order_id = request.match_info["order_id"]
            order = await c.orders.get(order_id)
            if order is None or order.channel != self.name:
                raise ApiError(404, "UNKNOWN_ORDER", "No such order")
            key = request.headers.get("Idempotency-Key", "").strip() or None
            key = f"{self.name}\x1f{op}\x1f{key}" if key else None
            method = getattr(c.orders, op)
            return outcome_response(await method(order_id, key=key, **kw))

        @r.post(
            "/api/boxoffice/orders/{order_id}/confirm",
            summary="Paid at the counter: issue tickets",
            tag=tag,
            auth=auth,
            body=ConfirmIn,
            body_required=False,
            headers=IDEMPOTENCY,
            responses=MOVE,
            response=OrderOut,
        )
        async def confirm(request: web.Request) -> web.Response:
            body = await read_model(request, ConfirmIn) if request.can_read_body else ConfirmIn()
            return await _move(request, "confirm", payment_ref=body.payment_ref)

        @r.post(
            "/api/boxoffice/orders/{order_id}/cancel",
            summary="Cancel (unused) and return stock",
            tag=tag,
            auth=auth,
            body=NO_BODY,
            headers=IDEMPOTENCY,
            responses=MOVE,
            response=OrderOut,
        )
        async def cancel(request: web.Request) -> web.Response:
            return await _move(request, "cancel")

        @r.post(
            "/api/boxoffice/orders/{order_id}/refund",
            summary="Refund unused tickets (all or some)",
            tag=tag,
            auth=auth,
            body=RefundIn,
            body_required=False,
            headers=IDEMPOTENCY,
            responses=MOVE,
            response=OrderOut,
        )
        async def refund(request: web.Request) -> web.Response:
            body = await read_model(request, RefundIn) if request.can_read_body else RefundIn()
            return await _move(request, "refund", ticket_ids=body.ticket_ids)

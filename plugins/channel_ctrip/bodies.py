"""The business bodies of Ctrip answers and callbacks, built from a hub `Order`.

Every body is a pure function of the order (and of ids Ctrip gave), so a replayed
request, a retried callback or a late one carries the same — or the latest — figures,
never a counter kept on the side. Field names follow public integrations of Ctrip's
ticket supplier API and are marked unconfirmed in ``plugins/channel_ctrip/ctrip.toml``.

Quantities are admissions (a group ticket for 5 counts 5):

``quantity``        booked
``useQuantity``     CUMULATIVE admissions used so far (never "since the last notice")
``cancelQuantity``  cancelled or refunded (a hold cancelled unpaid: all of it)
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import date
from typing import Any

from hub.domain import OrderState, TicketState
from hub.sdk import Order, Ticket

CONFIRMED_NOW = 1
"""``supplierConfirmType``: the answer itself is the confirmation."""
CONFIRM_LATER = 2
"""``supplierConfirmType``: pending; a ``*Confirm`` callback follows."""


def sequence_id(day: date, seed: str) -> str:
    """Ctrip's id shape, ``yyyyMMdd`` + 32 hex, derived from a stable seed so a
    re-sent callback keeps its id."""
    return day.strftime("%Y%m%d") + hashlib.md5(seed.encode("utf-8")).hexdigest()


def _used(order: Order, product_id: str | None = None) -> int:
    return sum(
        t.units
        for t in order.tickets
        if (product_id is None or t.product_id == product_id)
        and (t.entries_used > 0 or t.state is TicketState.USED)
    )


def _cancelled(order: Order, product_id: str, quantity: int) -> int:
    if not order.tickets and order.state in (OrderState.CANCELLED, OrderState.EXPIRED):
        return quantity
    return sum(
        t.units
        for t in order.tickets
        if t.product_id == product_id and t.state is TicketState.REVOKED
    )


def items(order: Order) -> list[dict[str, Any]]:
    """One entry per order line with its running totals."""
    return [
        {
            "PLU": line.product_id,
            "quantity": line.quantity,
            "useQuantity": _used(order, line.product_id),
            "cancelQuantity": _cancelled(order, line.product_id, line.quantity),
            "useStartDate": order.travel_date.isoformat(),
        }
        for line in order.lines
    ]


def vouchers(order: Order, only: set[str] | None = None) -> list[dict[str, Any]]:
    return [
        {
            "voucherId": t.id,
            "voucherCode": t.credential,
            "status": t.state.value,
            "useQuantity": t.units if (t.entries_used or t.state is TicketState.USED) else 0,
        }
        for t in order.tickets
        if only is None or t.id in only
    ]


def order_body(order: Order, confirm_type: int = CONFIRMED_NOW) -> dict[str, Any]:
    """The answer to CreatePreOrder / PayPreOrder / CreateOrder / cancels / QueryOrder."""
    return {
        "otaOrderId": order.partner_order_id,
        "supplierOrderId": order.id,
        "supplierConfirmType": confirm_type,
        "orderStatus": order.state.value,
        "quantity": order.quantity,
        "useQuantity": _used(order),
        "items": items(order),
        "vouchers": vouchers(order),
    }


def pending_body(ota_order_id: str, supplier_order_id: str) -> dict[str, Any]:
    """A "pending" answer: the result follows in a ``*Confirm`` call."""
    return {
        "otaOrderId": ota_order_id,
        "supplierOrderId": supplier_order_id,
        "supplierConfirmType": CONFIRM_LATER,
    }


def confirm_body(
    order: Order, sequence: str, *, tickets: list[str] | None = None
) -> dict[str, Any]:
    """``PayPreOrderConfirm`` / ``CreateOrderConfirm`` / ``CancelOrderConfirm`` /
    ``RefundOrderConfirm``: the sequenceId of the request it confirms, and the result."""
    body: dict[str, Any] = {
        "sequenceId": sequence,
        "otaOrderId": order.partner_order_id,
        "supplierOrderId": order.id,
        "confirmResultCode": "0000",
        "confirmResultMessage": "success",
        "orderStatus": order.state.value,
        "items": items(order),
    }
    if tickets is None:
        body["vouchers"] = vouchers(order)
    else:
        chosen = set(tickets)
        body["cancelQuantity"] = sum(t.units for t in order.tickets if t.id in chosen)
        body["vouchers"] = vouchers(order, chosen)
    return body


def part_refund_body(
    order: Order, sequence: str, ticket: Ticket | None, parts: list[str], amount: int
) -> dict[str, Any]:
    """``PartRefundNotice`` (the spec's serviceName, *unconfirmed*): a combo ticket's
    unused parts refunded by the venue; the ticket stays valid for its other parts."""
    return {
        "sequenceId": sequence,
        "otaOrderId": order.partner_order_id,
        "supplierOrderId": order.id,
        "orderStatus": order.state.value,
        "items": items(order),
        "refundParts": [{"part": p} for p in parts],
        "refundAmount": round(amount / 100, 2),
        "vouchers": vouchers(order, {ticket.id} if ticket is not None else None),
    }


def consumed_body(
    order: Order, sequence: str, card_types: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """``OrderConsumedNotice``: cumulative ``useQuantity`` and who/what was consumed.
    ``card_types`` maps a hub `IdType` value to Ctrip's ``cardType`` (the spec's
    ``mapping.id_types`` reversed)."""
    codes = card_types or {"id_card": "1"}
    used_idx = {
        t.visitor_index
        for t in order.tickets
        if t.visitor_index is not None and (t.entries_used or t.state is TicketState.USED)
    }
    return {
        "sequenceId": sequence,
        "otaOrderId": order.partner_order_id,
        "supplierOrderId": order.id,
        "quantity": order.quantity,
        "useQuantity": _used(order),
        "items": items(order),
        "passengers": [
            {
                "name": v.name,
                "cardType": codes.get(v.id_type.value, ""),
                "cardNo": v.id_number or "",
            }
            for i, v in enumerate(order.visitors)
            if i in used_idx
        ],
        "vouchers": [v for v in vouchers(order) if v["useQuantity"]],
    }

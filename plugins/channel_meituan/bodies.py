"""The business bodies of Meituan answers and notices, built from a hub `Order`.

Every body is a pure function of the order (plus Meituan's own ids and times), so a
replayed request, a retried notice or a late one carries the same — or the latest —
figures, never a counter kept on the side. Field names follow the reference's notice
fields (``orderId``, ``partnerOrderId``, ``quantity``, ``usedQuantity``,
``refundedQuantity``, ``refundId``, ``requestTime``, ``responseTime``); the rest are
unconfirmed, like the spec's ``[mapping]``.

On Meituan's side the supplier is the "partner": ``orderId`` is Meituan's order id (our
``partner_order_id``) and ``partnerOrderId`` is ours (the hub's order id).

Quantities are admissions (a group ticket for 5 counts 5):

``quantity``          booked
``usedQuantity``      CUMULATIVE admissions used so far (never "since the last notice")
``refundedQuantity``  CUMULATIVE admissions refunded so far
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from hub.domain import TicketState
from hub.sdk import Order

BEIJING = timezone(timedelta(hours=8))
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def beijing(at: datetime) -> str:
    """Meituan's ``yyyy-MM-dd HH:mm:ss`` in Beijing time (unconfirmed format)."""
    return at.astimezone(BEIJING).strftime(TIME_FORMAT)


def used(order: Order) -> int:
    return sum(t.units for t in order.tickets if t.entries_used > 0 or t.state is TicketState.USED)


def refunded(order: Order) -> int:
    return sum(t.units for t in order.tickets if t.state is TicketState.REVOKED)


def vouchers(order: Order) -> list[dict[str, Any]]:
    """One voucher per ticket: the code a gate scans (the signed QR credential)."""
    return [
        {
            "voucherId": t.id,
            "voucherCode": t.credential,
            "quantity": t.units,
            "status": t.state.value,
            "usedQuantity": t.units if (t.entries_used or t.state is TicketState.USED) else 0,
        }
        for t in order.tickets
    ]


def order_body(order: Order) -> dict[str, Any]:
    """The answer to create, pay (the issued vouchers), query, close and refund."""
    return {
        "orderId": order.partner_order_id,
        "partnerOrderId": order.id,
        "orderStatus": order.state.value,
        "travelDate": order.travel_date.isoformat(),
        "quantity": order.quantity,
        "usedQuantity": used(order),
        "refundedQuantity": refunded(order),
        "vouchers": vouchers(order),
    }


def consume_body(order: Order) -> dict[str, Any]:
    """The consume notice: running totals as they are when it is DELIVERED."""
    return {
        "orderId": order.partner_order_id,
        "partnerOrderId": order.id,
        "quantity": order.quantity,
        "usedQuantity": used(order),
        "refundedQuantity": refunded(order),
    }


def refund_body(
    order: Order,
    *,
    refund_id: str,
    request_time: str,
    response_time: str,
    refund_quantity: int,
) -> dict[str, Any]:
    """The refund notice: which refund (Meituan's ``refundId``, or ours for a refund the
    venue made), when it was asked and answered, and the running total."""
    return {
        "orderId": order.partner_order_id,
        "partnerOrderId": order.id,
        "refundId": refund_id,
        "requestTime": request_time,
        "responseTime": response_time,
        "refundQuantity": refund_quantity,
        "quantity": order.quantity,
        "refundedQuantity": refunded(order),
        "result": "approved",
    }


def voucher_body(order: Order) -> dict[str, Any]:
    """The voucher notice (asynchronous issuing): the order's vouchers."""
    return {
        "orderId": order.partner_order_id,
        "partnerOrderId": order.id,
        "orderStatus": order.state.value,
        "quantity": order.quantity,
        "vouchers": vouchers(order),
    }


def pending_body(order: Order) -> dict[str, Any]:
    """The answer to pay while issuing is in progress: no vouchers yet."""
    return {"orderId": order.partner_order_id, "partnerOrderId": order.id}

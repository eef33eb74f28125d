"""Order events → WeChat calls, as outbox `PartnerCall`s (hooks do no I/O).

Every call carries only keys (order id, ``out_trade_no``, ``out_refund_no``); the
delivery reads what it needs when it runs, so a retried call acts on the latest state.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta, timezone

from hub.sdk import Order, PartnerCall, Ticket
from plugins.channel_wechat.trades import out_refund_no

CHANNEL = "wechat"
CST = timezone(timedelta(hours=8))  # WeChat's users: China Standard Time
REMINDER_AT = time(9, 0)


def message(order: Order, template: str, *, not_before: datetime | None = None) -> PartnerCall:
    return PartnerCall(
        CHANNEL,
        "message",
        f"message:{template}:{order.id}",
        {"template": template, "order_id": order.id, "out_trade_no": order.partner_order_id},
        order.id,
        not_before,
    )


def reminder_time(order: Order) -> datetime:
    """09:00 China time on the day before the visit."""
    day = order.travel_date - timedelta(days=1)
    return datetime.combine(day, REMINDER_AT, CST).astimezone(UTC)


def refund(
    order: Order, reason: str, *, amount: int | None, tickets: list[Ticket] | None = None
) -> PartnerCall:
    """Money back for `order`: `amount` fen, or (None) whatever is not refunded yet."""
    ids = [t.id for t in tickets or []]
    refund_no = out_refund_no(order.partner_order_id, reason, ids)
    return PartnerCall(
        CHANNEL,
        "refund",
        f"refund:{refund_no}",
        {
            "order_id": order.id,
            "out_trade_no": order.partner_order_id,
            "out_refund_no": refund_no,
            "amount": amount,
            "reason": reason,
        },
        order.id,
    )


def close(order: Order) -> PartnerCall:
    return PartnerCall(
        CHANNEL,
        "close",
        f"close:{order.partner_order_id}",
        {"order_id": order.id, "out_trade_no": order.partner_order_id},
        order.id,
    )


def on_confirmed(order: Order) -> list[PartnerCall]:
    return [message(order, "issued"), message(order, "reminder", not_before=reminder_time(order))]


def on_refunded(order: Order, tickets: list[Ticket]) -> list[PartnerCall]:
    prices = {line.product_id: line.unit_price or 0 for line in order.lines}
    amount = sum(prices.get(t.product_id, 0) * t.units for t in tickets)
    return [refund(order, "refund", amount=amount, tickets=tickets)] if amount > 0 else []


def on_cancelled(order: Order) -> list[PartnerCall]:
    """A paid order cancelled is refunded in full; a hold cancelled is closed at WeChat."""
    if order.confirmed_at is not None:
        return [refund(order, "cancel", amount=None)]
    return [close(order)]


def late_payment_remedy(order: Order, paid: int) -> list[PartnerCall]:
    """Paid after the stock was gone: the whole payment back, and a word to the visitor."""
    return [refund(order, "late", amount=paid), message(order, "late_refund")]

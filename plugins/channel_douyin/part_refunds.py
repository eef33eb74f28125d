"""Tell Douyin a combo ticket's unused part was refunded by the venue (`hub.orders.parts`).

The hook (run inside the refund's transaction) only RETURNS the `PartnerCall`: one per
ticket and parts, so the desk's retry of the same refund queues nothing more. Delivery
is one OpenAPI POST (the ``access-token`` of `plugins.channel_douyin.openapi`) carrying
Douyin's order id, the voucher code, the parts, the money (fen) and ``out_refund_id``,
an id of ours that stays the same on every retry, so Douyin can dedupe the at-least-once
outbox. The stored copies of Douyin's docs show no supplier-initiated part refund: the
path and fields are the spec's ``[callbacks.part_refund]`` (*unconfirmed*).
"""

from __future__ import annotations

from typing import Any

from hub.sdk import DeliveryError, Order, PartnerCall, Ticket
from plugins.channel_douyin import certificates
from plugins.channel_douyin.openapi import OpenApi

PART_REFUND = "part_refund"


def part_refund_call(
    order: Order, ticket: Ticket, parts: list[str], amount: int
) -> PartnerCall | None:
    if order.channel != certificates.CHANNEL or not certificates.HOOKS.callbacks or not parts:
        return None
    tag = f"{ticket.id}-{'+'.join(sorted(parts))}"
    return PartnerCall(
        partner=certificates.CHANNEL,
        kind=PART_REFUND,
        dedupe_key=f"douyin:part-refund:{order.id}:{tag}"[:200],
        payload={
            "order_id": order.id,
            "ticket_id": ticket.id,
            "refund_id": f"S{order.id}-{tag}"[:64],
            "parts": sorted(parts),
            "amount": amount,
        },
        order_id=order.id,
    )


async def deliver(api: OpenApi, ctx: Any, call: PartnerCall) -> None:
    order = await ctx.orders.get(str(call.payload["order_id"]))
    ticket_id = str(call.payload["ticket_id"])
    ticket = next((t for t in order.tickets if t.id == ticket_id), None) if order else None
    if order is None or ticket is None:
        raise DeliveryError(f"douyin: ticket {ticket_id} is gone", retryable=False)
    body = {
        "order_id": order.partner_order_id,
        "out_order_id": order.id,
        "code": ticket.credential,
        "out_refund_id": str(call.payload["refund_id"]),
        "parts": [str(p) for p in call.payload.get("parts", ())],
        "refund_amount": int(call.payload.get("amount", 0)),
    }
    await api.call(PART_REFUND, "POST", body=body)

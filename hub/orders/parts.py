"""The refund of a combo ticket's unused parts (`hub.domain.combo`).

Only for a combo product that allows it (``Product.parts_refundable``): the visitor went
through the main gate but skipped the cable car, and the cable car's part is refunded —
its entry is marked refunded (the bridges hear it through the change feed and refuse it
with the part's name), its pool's units go back to stock, its ``refund_amount`` goes
back to the B2B account when the order was charged to one, and the channel is told
(`hookspecs.ticket_parts_refunded`: the payment refund of a WeChat order, the refund
notice of an OTA). When no part was used and every part goes, it is simply the refund of
the whole ticket (`OrderLifecycle.refund`), told as such.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.domain import DenialCode, OrderState, ProductKind, TicketState
from hub.domain.combo import all_used, dump_parts
from hub.domain.errors import DeniedError
from hub.domain.order import can_move
from hub.orders import records
from hub.orders.lifecycle import Lifecycle, replace_order
from hub.redemptions.changes import stamp_ids
from hub.sdk.outcome import Outcome

TIX = records.TIX
ORD = records.ORD


async def refund_parts(
    life: Lifecycle,
    conn: AsyncConnection,
    order_id: str,
    ticket_id: str,
    parts: Sequence[str] | None,
    now: datetime,
) -> Outcome:
    """Refund ``parts`` of one combo ticket (None: every part not used yet)."""
    order, extra = await life._load(conn, order_id)
    if order.state not in (OrderState.CONFIRMED, OrderState.PARTLY_REDEEMED):
        raise DeniedError.of(DenialCode.INVALID_STATE, f"Order is {order.state.value}")
    ticket = next((t for t in order.tickets if t.id == ticket_id), None)
    if ticket is None:
        raise DeniedError.of(DenialCode.UNKNOWN_TICKET, f"No ticket {ticket_id} in this order")
    product = await life.catalog.product(ticket.product_id, conn=conn)
    if ticket.parts is None or product is None or product.kind is not ProductKind.COMBO:
        raise DeniedError.of(DenialCode.INVALID_REQUEST, "Not a combo ticket")
    if not product.parts_refundable:
        raise DeniedError.of(DenialCode.INVALID_STATE, "This combo's parts are not refundable")
    if ticket.state is not TicketState.VALID:
        raise DeniedError.of(DenialCode.INVALID_STATE, f"Ticket is {ticket.state.value}")
    current = ticket.parts
    wanted = (
        list(dict.fromkeys(parts))
        if parts
        else [k for k, p in current.items() if not p.used and not p.refunded]
    )
    if not wanted:
        raise DeniedError.of(DenialCode.INVALID_STATE, "No unused part left to refund")
    for key in wanted:
        p = current.get(key)
        if p is None:
            raise DeniedError.of(DenialCode.INVALID_REQUEST, f"The combo has no part {key}")
        if p.refunded:
            raise DeniedError.of(DenialCode.INVALID_STATE, f"Part {key} already refunded")
        if p.used:
            raise DeniedError.of(DenialCode.ALREADY_REDEEMED, f"Part {key} was used")
    if not ticket.entries_used and len(wanted) == len(current):
        return await life.refund(conn, order_id, [ticket_id], now)  # the whole ticket

    comps = {c.part: c for c in product.components}
    units: dict[str, int] = defaultdict(int)
    amount = 0
    for key in wanted:
        comp = comps.get(key)
        if comp is None:  # the product changed since the sale: no stock or money to tell
            continue
        part_product = await life.catalog.product(comp.product_id, conn=conn)
        if part_product is not None and part_product.pool:
            units[part_product.pool] += comp.quantity * ticket.units
        amount += comp.refund_amount * ticket.units
    new_parts = {
        k: p.model_copy(update={"refunded": True}) if k in wanted else p for k, p in current.items()
    }
    state = TicketState.USED if all_used(new_parts) else TicketState.VALID
    await conn.execute(
        update(TIX)
        .where(TIX.c.id == ticket_id)
        .values(parts=dump_parts(new_parts), state=state.value)
    )
    await stamp_ids(conn, {ticket_id: order.venue_id})  # the bridges must hear of it
    await life.returns.pool_units(conn, order, units)
    await life.returns.money(conn, order, extra, amount, now, "part refunded")
    refunded_amount = int(extra.get("refunded_amount", 0)) + amount
    extra = {**extra, "refunded_amount": refunded_amount}
    others_open = any(t.state is TicketState.VALID for t in order.tickets if t.id != ticket_id)
    dst = order.state
    if state is TicketState.USED and not others_open and can_move(dst, OrderState.REDEEMED):
        dst = OrderState.REDEEMED  # the refunded part was the last entry left
    if dst is not order.state:
        await life._move(conn, order, dst, now, extra=extra)
    else:
        await conn.execute(
            update(ORD).where(ORD.c.id == order.id).values(extra=extra, updated_at=now)
        )
    done_ticket = ticket.model_copy(update={"parts": new_parts, "state": state})
    done = replace_order(
        order,
        state=dst,
        tickets=tuple(done_ticket if t.id == ticket_id else t for t in order.tickets),
    )
    await life._emit(
        conn, life.plugins.ticket_parts_refunded(done, done_ticket, wanted, amount), now
    )
    body = {
        "order": records.order_json(done),
        "ticket_id": ticket_id,
        "refunded_parts": wanted,
        "refunded_amount": amount,
    }
    return Outcome(200, body, order_id=order.id)

"""What the ``ticket_redeemed`` hook is handed for a counted entry: the order and the
redemption, rebuilt from the rows the recorder has locked.

Reading whole orders back out of ticket, order and visitor rows (unsealing ID numbers) is
its own job, apart from the counting rules in `hub.redemptions.uploads`; it runs per
order per upload batch, so it constructs without validating again.
"""

from __future__ import annotations

from typing import Any

from hub.domain import Order, OrderState, Redemption, TicketState
from hub.domain.combo import load_parts
from hub.orders import records
from hub.redemptions.upload_models import RedemptionIn
from hub.storage.sealed import IdNumbers, ticket_row_label


def hook_redemption(r: RedemptionIn, venue_id: str) -> Redemption:
    return Redemption(
        id=r.id,
        ticket_id=r.ticket_id,
        venue_id=venue_id,
        gate=r.gate,
        device=r.device,
        medium=r.medium,
        direction=r.direction,
        at=r.at,
        accepted=r.accepted,
        code=r.code,
    )


def hook_order(
    row: Any,
    state: OrderState,
    tickets: list[dict[str, Any]],
    visitors: list[Any],
    ids: IdNumbers,
) -> Order:
    """The order as the hook sees it. Every field comes from rows the hub wrote after
    validating them: constructed without validating again (this runs per order per
    upload batch)."""
    from hub.domain import Contact, OrderLine, Ticket, Visitor

    return Order.model_construct(
        id=row.id,
        channel=row.channel,
        partner_order_id=row.partner_order_id,
        venue_id=row.venue_id,
        state=state,
        travel_date=row.travel_date,
        slot=row.slot,
        lines=tuple(OrderLine.model_construct(**line) for line in row.lines),
        visitors=tuple(
            Visitor.model_construct(
                name=v.name,
                id_type=v.id_type,
                id_number=records.visitor_id_number(v, ids),
                phone=v.phone,
            )
            for v in visitors
        ),
        contact=Contact.model_validate(row.contact) if row.contact else None,
        amount=row.amount,
        currency=row.currency,
        created_at=row.created_at,
        hold_expires_at=row.hold_expires_at,
        confirmed_at=row.confirmed_at,
        tickets=tuple(
            Ticket.model_construct(
                id=t["id"],
                order_id=t["order_id"],
                product_id=t["product_id"],
                venue_id=t["venue_id"],
                visitor_index=t["visitor_index"],
                holder_id_number=ids.open(ticket_row_label(t["id"]), t["holder_id_sealed"]),
                valid_from=t["valid_from"],
                valid_until=t["valid_until"],
                entries_allowed=t["entries_allowed"],
                entries_used=t["entries_used"],
                units=t["units"],
                state=TicketState(t["state"]),
                credential=t["credential"],
                parts=load_parts(t["parts"]),
            )
            for t in sorted(tickets, key=lambda t: t["id"])
        ),
    )

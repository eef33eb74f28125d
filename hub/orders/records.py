"""Order rows ⇄ domain objects. Writes go as one executemany per table per batch."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.domain import Contact, Order, OrderLine, OrderState, Ticket, TicketState, Visitor
from hub.storage.tables import AllocationRow, OrderRow, OrderVisitorRow, TicketRow

ORD = OrderRow.__table__
VIS = OrderVisitorRow.__table__
ALLOC = AllocationRow.__table__
TIX = TicketRow.__table__


def order_row(order: Order, extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": order.id,
        "channel": order.channel,
        "partner_order_id": order.partner_order_id,
        "venue_id": order.venue_id,
        "state": order.state.value,
        "travel_date": order.travel_date,
        "slot": order.slot,
        "amount": order.amount,
        "currency": order.currency,
        "lines": [line.model_dump() for line in order.lines],
        "contact": order.contact.model_dump() if order.contact else {},
        "extra": extra,
        "created_at": order.created_at,
        "updated_at": order.created_at,
        "hold_expires_at": order.hold_expires_at,
        "confirmed_at": order.confirmed_at,
    }


def visitor_rows(order: Order) -> list[dict[str, Any]]:
    return [
        {
            "order_id": order.id,
            "idx": i,
            "name": v.name,
            "id_type": v.id_type.value,
            "id_number": v.id_number,
            "phone": v.phone,
        }
        for i, v in enumerate(order.visitors)
    ]


def ticket_row(t: Ticket) -> dict[str, Any]:
    return {
        "id": t.id,
        "order_id": t.order_id,
        "product_id": t.product_id,
        "venue_id": t.venue_id,
        "visitor_index": t.visitor_index,
        "holder_id_number": t.holder_id_number,
        "valid_from": t.valid_from,
        "valid_until": t.valid_until,
        "entries_allowed": t.entries_allowed,
        "entries_used": t.entries_used,
        "units": t.units,
        "state": t.state.value,
        "credential": t.credential,
        "change_seq": 0,
    }


async def insert_many(
    conn: AsyncConnection,
    *,
    orders: Sequence[dict[str, Any]] = (),
    visitors: Sequence[dict[str, Any]] = (),
    allocations: Sequence[dict[str, Any]] = (),
    tickets: Sequence[dict[str, Any]] = (),
) -> None:
    if tickets:  # new tickets are changes the venue bridge must receive (change_seq)
        from hub.redemptions.changes import stamp_rows

        await stamp_rows(conn, tickets)
    for table, rows in ((ORD, orders), (VIS, visitors), (ALLOC, allocations), (TIX, tickets)):
        if rows:
            await conn.execute(insert(table), list(rows))


def ticket_from_row(r: Any) -> Ticket:
    return Ticket(
        id=r.id,
        order_id=r.order_id,
        product_id=r.product_id,
        venue_id=r.venue_id,
        visitor_index=r.visitor_index,
        holder_id_number=r.holder_id_number,
        valid_from=r.valid_from,
        valid_until=r.valid_until,
        entries_allowed=r.entries_allowed,
        entries_used=r.entries_used,
        units=r.units,
        state=TicketState(r.state),
        credential=r.credential,
    )


async def load_order(
    conn: AsyncConnection,
    *,
    order_id: str | None = None,
    channel: str | None = None,
    partner_order_id: str | None = None,
    for_update: bool = False,
) -> Order | None:
    stmt = select(ORD)
    if order_id is not None:
        stmt = stmt.where(ORD.c.id == order_id)
    else:
        stmt = stmt.where(ORD.c.channel == channel, ORD.c.partner_order_id == partner_order_id)
    if for_update and conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    row = (await conn.execute(stmt)).first()
    if row is None:
        return None
    visitors = (
        await conn.execute(select(VIS).where(VIS.c.order_id == row.id).order_by(VIS.c.idx))
    ).all()
    tickets = (
        await conn.execute(select(TIX).where(TIX.c.order_id == row.id).order_by(TIX.c.id))
    ).all()
    return Order(
        id=row.id,
        channel=row.channel,
        partner_order_id=row.partner_order_id,
        venue_id=row.venue_id,
        state=OrderState(row.state),
        travel_date=row.travel_date,
        slot=row.slot,
        lines=tuple(OrderLine.model_validate(line) for line in row.lines),
        visitors=tuple(
            Visitor(name=v.name, id_type=v.id_type, id_number=v.id_number, phone=v.phone)
            for v in visitors
        ),
        contact=Contact.model_validate(row.contact) if row.contact else None,
        amount=row.amount,
        currency=row.currency,
        created_at=row.created_at,
        hold_expires_at=row.hold_expires_at,
        confirmed_at=row.confirmed_at,
        tickets=tuple(ticket_from_row(t) for t in tickets),
    )


def order_json(order: Order) -> dict[str, Any]:
    return order.model_dump(mode="json")

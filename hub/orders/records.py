"""Order rows ⇄ domain objects. Writes go as one executemany per table per batch.

ID numbers are sealed here, on the way to the rows, and opened on the way back
(`hub.storage.sealed.IdNumbers`): the domain objects hold them in clear, the rows never.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.domain import Contact, Order, OrderLine, OrderState, Ticket, TicketState, Visitor
from hub.domain.combo import dump_parts, load_parts
from hub.storage.sealed import IdNumbers, ticket_row_label, visitor_row_label
from hub.storage.tables import AllocationRow, OrderRow, OrderVisitorRow, TicketRow

ORD = OrderRow.__table__
VIS = OrderVisitorRow.__table__
ALLOC = AllocationRow.__table__
TIX = TicketRow.__table__
_INSERTS = {t: insert(t) for t in (ORD, VIS, ALLOC, TIX)}  # built once, not per batch


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


def visitor_id_columns(
    ids: IdNumbers, order_id: str, idx: int, number: str | None
) -> dict[str, Any]:
    """The stored form of a visitor's ID number: sealed to its row, and its keyed hash."""
    return {
        "id_sealed": ids.seal(visitor_row_label(order_id, idx), number),
        "id_hash": ids.hash(number),
    }


def visitor_rows(order: Order, ids: IdNumbers) -> list[dict[str, Any]]:
    return [
        {
            "order_id": order.id,
            "idx": i,
            "name": v.name,
            "id_type": v.id_type.value,
            **visitor_id_columns(ids, order.id, i, v.id_number),
            "phone": v.phone,
        }
        for i, v in enumerate(order.visitors)
    ]


def visitor_id_number(r: Any, ids: IdNumbers) -> str | None:
    """A visitor row's ID number, in clear."""
    return ids.open(visitor_row_label(r.order_id, r.idx), r.id_sealed)


def holder_id_number(r: Any, ids: IdNumbers) -> str | None:
    """A ticket row's holder ID number, in clear (None: not a real-name ticket)."""
    return ids.open(ticket_row_label(r.id), r.holder_id_sealed)


def ticket_row(t: Ticket, ids: IdNumbers) -> dict[str, Any]:
    return {
        "id": t.id,
        "order_id": t.order_id,
        "product_id": t.product_id,
        "venue_id": t.venue_id,
        "visitor_index": t.visitor_index,
        "holder_id_sealed": ids.seal(ticket_row_label(t.id), t.holder_id_number),
        "holder_id_hash": ids.hash(t.holder_id_number),
        "valid_from": t.valid_from,
        "valid_until": t.valid_until,
        "entries_allowed": t.entries_allowed,
        "entries_used": t.entries_used,
        "units": t.units,
        "state": t.state.value,
        "credential": t.credential,
        "parts": dump_parts(t.parts),
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
            await conn.execute(_INSERTS[table], list(rows))


def ticket_from_row(r: Any, ids: IdNumbers) -> Ticket:
    return Ticket(
        id=r.id,
        order_id=r.order_id,
        product_id=r.product_id,
        venue_id=r.venue_id,
        visitor_index=r.visitor_index,
        holder_id_number=holder_id_number(r, ids),
        valid_from=r.valid_from,
        valid_until=r.valid_until,
        entries_allowed=r.entries_allowed,
        entries_used=r.entries_used,
        units=r.units,
        state=TicketState(r.state),
        credential=r.credential,
        parts=load_parts(r.parts),
    )


async def load_order(
    conn: AsyncConnection,
    *,
    ids: IdNumbers,
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
            Visitor(
                name=v.name,
                id_type=v.id_type,
                id_number=visitor_id_number(v, ids),
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
        tickets=tuple(ticket_from_row(t, ids) for t in tickets),
    )


def order_json(order: Order) -> dict[str, Any]:
    return order.model_dump(mode="json")


async def orders_of_id_number(
    conn: AsyncConnection, ids: IdNumbers, id_number: str, *, limit: int = 100
) -> list[str]:
    """Ids of the orders with a visitor or a ticket holder of this ID number, newest first
    — found by keyed hash, the only searchable form an ID number is stored in."""
    key = ids.hash(id_number)
    if key is None:
        return []
    by_visitor = select(VIS.c.order_id).where(VIS.c.id_hash == key)
    by_holder = select(TIX.c.order_id).where(TIX.c.holder_id_hash == key)
    found = by_visitor.union(by_holder).subquery()
    stmt = (
        select(ORD.c.id)
        .where(ORD.c.id.in_(select(found.c.order_id)))
        .order_by(ORD.c.created_at.desc(), ORD.c.id)
        .limit(limit)
    )
    return list((await conn.execute(stmt)).scalars())

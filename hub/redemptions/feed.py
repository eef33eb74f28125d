"""Ticket changes for a venue bridge, by cursor, and the read side of the flow.

The cursor is ``"<change_seq>.<ticket id>"`` (empty: from the start). Because sequence
numbers follow commit order per venue (`hub.redemptions.changes`), "everything after the
cursor" never skips a change that commits later; a page ends on any ticket, so one large
transaction can span pages and a bridge resumes exactly where its last page ended.

Each ticket carries its ORDER's slot (one slot per order; it never changes after the sale,
so it needs no change number of its own): the bridge's ``slot_window`` rule needs it, and
the signed QR has no room for it.

Each ticket also carries ``face``: the version of the visitor's enrolled face photo, or
null. Enrolling, replacing or withdrawing a face takes a change number like any ticket
change, so the bridge sees the new version and fetches the photo from its own route
(``/faces/{ticket_id}``): photos never travel inside a page.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.domain.catalog import SlotInfo
from hub.domain.digits import ascii_int
from hub.storage.db import reader
from hub.storage.sealed import IdNumbers, ticket_row_label
from hub.storage.tables import FaceRow, FlowCountRow, OrderRow, RedemptionRow, TicketRow

TIX = TicketRow.__table__
ORD = OrderRow.__table__
FLOW = FlowCountRow.__table__
RED = RedemptionRow.__table__
FACE = FaceRow.__table__
MAX_PAGE = 5000


class CursorError(ValueError):
    """A cursor this hub never handed out."""


def parse_cursor(text: str) -> tuple[int, str]:
    if not text:
        return (-1, "")
    digits, dot, ticket = text.partition(".")
    seq = ascii_int(digits)
    if not dot or seq is None or len(ticket) > 32:
        raise CursorError("cursor must be '<seq>.<ticket id>' as returned by this API")
    return seq, ticket


def slot_change(code: str | None) -> dict[str, str] | None:
    """The slot as the bridge stores it; None for a whole-day ticket. A code that does not
    parse (the sale refuses those, so only a hand-edited row) is sent as whole-day rather
    than breaking the bridge's sync for every other ticket."""
    try:
        slot = SlotInfo.parse(code or "")
    except ValueError:
        return None
    if not slot.code:
        return None
    return {"code": slot.code, "start": slot.start.isoformat(), "end": slot.end.isoformat()}


def ticket_change(r: Any, ids: IdNumbers) -> dict[str, Any]:
    return {
        "id": r.id,
        "order_id": r.order_id,
        "product_id": r.product_id,
        "valid_from": r.valid_from.isoformat(),
        "valid_until": r.valid_until.isoformat(),
        "entries_allowed": r.entries_allowed,
        "entries_used": r.entries_used,
        "units": r.units,
        "state": r.state,
        "credential": r.credential,
        # real-name tickets: the bridge admits by ID card (and pushes the number to gates
        # that keep their own lists), so it gets the number in clear — opened here from
        # its sealed column, over the venue's authenticated feed, to this venue's bridge only
        "holder_id_number": ids.open(ticket_row_label(r.id), r.holder_id_sealed),
        "slot": slot_change(r.slot),
        "face": r.face_version,  # a version, never the photo
        "parts": r.parts,  # a combo's entries per attraction (`hub.domain.combo`), or null
        "seq": r.change_seq,
    }


def changes_query(venue_id: str, seq: int, after: str, limit: int) -> Select[Any]:
    """The venue's tickets after the cursor (seq, id), in cursor order.

    ``change_seq >= seq`` is spelled out next to the OR so both databases turn it into
    a range on index ix_ticket_change_id (venue_id, change_seq, id) — with the OR alone
    they read every ticket of the venue from the start of the index, and a feed page
    costs as much as the venue's whole history."""
    return (
        select(TIX, ORD.c.slot, FACE.c.version.label("face_version"))
        .select_from(
            TIX.outerjoin(ORD, ORD.c.id == TIX.c.order_id).outerjoin(
                FACE, FACE.c.ticket_id == TIX.c.id
            )
        )
        .where(
            TIX.c.venue_id == venue_id,
            TIX.c.change_seq >= seq,
            or_(TIX.c.change_seq > seq, TIX.c.id > after),
        )
        .order_by(TIX.c.change_seq, TIX.c.id)
        .limit(limit)
    )


async def changes_since(
    engine: AsyncEngine, venue_id: str, cursor: str, limit: int, ids: IdNumbers
) -> dict[str, Any]:
    seq, after = parse_cursor(cursor)
    limit = max(1, min(limit, MAX_PAGE))
    stmt = changes_query(venue_id, seq, after, limit + 1)
    async with reader(engine).connect() as conn:
        rows = (await conn.execute(stmt)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = f"{rows[-1].change_seq}.{rows[-1].id}" if rows else cursor
    return {
        "tickets": [ticket_change(r, ids) for r in rows],
        "cursor": next_cursor,
        "more": more,
    }


async def flow(engine: AsyncEngine, venue_id: str, day: date) -> dict[str, Any]:
    async with reader(engine).connect() as conn:
        row = (
            await conn.execute(select(FLOW).where(FLOW.c.venue_id == venue_id, FLOW.c.day == day))
        ).first()
    entries, exits = (row.entries, row.exits) if row else (0, 0)
    return {
        "venue_id": venue_id,
        "date": day.isoformat(),
        "entries": entries,
        "exits": exits,
        "in_park": max(0, entries - exits),
        "denied": row.denied if row else 0,
        "conflicts": row.conflicts if row else 0,
    }


async def conflicts(engine: AsyncEngine, venue_id: str, limit: int = 200) -> list[dict[str, Any]]:
    stmt = (
        select(RED)
        .where(RED.c.venue_id == venue_id, RED.c.conflict != "")
        .order_by(RED.c.received_at.desc(), RED.c.id)
        .limit(max(1, min(limit, 1000)))
    )
    async with reader(engine).connect() as conn:
        rows = (await conn.execute(stmt)).all()
    return [
        {
            "id": r.id,
            "ticket_id": r.ticket_id,
            "conflict": r.conflict,
            "gate": r.gate,
            "device": r.device,
            "bridge": r.bridge,
            "at": r.at.isoformat(),
            "received_at": r.received_at.isoformat(),
            "offline": r.offline,
        }
        for r in rows
    ]

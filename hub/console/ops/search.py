"""Order search for the operations team: by order id, partner order id, phone or ID number.

ID numbers are stored only sealed, with a keyed hash beside them
(`hub.storage.sealed`): a number typed at the desk is hashed with the hub's secret and
matched on the hash, never decrypted row by row. What the page shows of a person is
masked (`hub.domain.masking`): the last digits are enough to tell two visitors apart.

Lookups use indexes: the order's primary key, ``(channel, partner_order_id)`` with the
installed channels as the leading column, ``order_visitor.phone`` and the ID hashes.
The contact phone sits in the order's JSON ``contact`` and cannot be indexed portably, so
matching it scans the orders table — paid only when a staff member searches something
that looks like a phone number, never on a page refresh.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.domain.masking import mask_id, mask_phone
from hub.orders import records
from hub.storage.sealed import IdNumbers, SealOpenError

ORD = records.ORD
VIS = records.VIS
LIMIT = 50
MAX_QUERY = 128

PHONE = re.compile(r"^\+?[0-9][0-9 \-]{4,30}$")
ID_NUMBER = re.compile(r"^[0-9A-Za-z]{6,32}$")


@dataclass(frozen=True, slots=True)
class VisitorShown:
    """A visitor as staff see it: the name (escaped by the template, never masked — staff
    call people by name at the gate), the ID number and phone masked."""

    name: str
    id_type: str
    id_number: str | None
    phone: str | None


@dataclass(frozen=True, slots=True)
class Found:
    id: str
    channel: str
    partner_order_id: str
    state: str
    travel_date: date
    slot: str
    amount: int
    currency: str
    created_at: datetime
    visitors: tuple[VisitorShown, ...]
    contact_phone: str | None
    matched: tuple[str, ...]  # "order_id" | "partner_order_id" | "phone" | "id_number"


def shown_visitor(row: Any, ids: IdNumbers) -> VisitorShown:
    try:
        number = records.visitor_id_number(row, ids)
    except SealOpenError:  # sealed with another key: say so rather than fail the page
        number = "?"
    return VisitorShown(row.name, row.id_type, mask_id(number), mask_phone(row.phone))


def _phone_forms(q: str) -> list[str]:
    """The phone as typed and without spaces/dashes (stored forms vary by channel)."""
    compact = re.sub(r"[ \-]", "", q)
    return sorted({q, compact})


async def search(
    conn: AsyncConnection,
    ids: IdNumbers,
    query: str,
    *,
    channels: Sequence[str],
    limit: int = LIMIT,
) -> list[Found]:
    """Orders matching ``query`` as any of the four keys, newest first; each says which
    key(s) it matched by."""
    q = query.strip()[:MAX_QUERY]
    if not q:
        return []
    matched: dict[str, list[str]] = {}

    def hit(order_ids: Sequence[str], how: str) -> None:
        for order_id in order_ids:
            matched.setdefault(order_id, []).append(how)

    rows = await conn.execute(select(ORD.c.id).where(ORD.c.id == q))
    hit(list(rows.scalars()), "order_id")
    if channels:
        stmt = select(ORD.c.id).where(
            ORD.c.channel.in_(list(channels)), ORD.c.partner_order_id == q
        )
        hit(list((await conn.execute(stmt.limit(limit))).scalars()), "partner_order_id")
    if PHONE.match(q):
        forms = _phone_forms(q)
        by_visitor = select(VIS.c.order_id).where(VIS.c.phone.in_(forms)).limit(limit)
        hit(list(dict.fromkeys((await conn.execute(by_visitor)).scalars())), "phone")
        contact = ORD.c.contact["phone"].as_string()
        by_contact = select(ORD.c.id).where(contact.in_(forms)).limit(limit)
        hit(list((await conn.execute(by_contact)).scalars()), "phone")
    if ID_NUMBER.match(q):
        hit(await records.orders_of_id_number(conn, ids, q, limit=limit), "id_number")
    if not matched:
        return []
    return await summaries(conn, ids, matched, limit=limit)


async def summaries(
    conn: AsyncConnection, ids: IdNumbers, matched: dict[str, list[str]], *, limit: int = LIMIT
) -> list[Found]:
    order_rows = (
        await conn.execute(
            select(ORD)
            .where(ORD.c.id.in_(list(matched)))
            .order_by(ORD.c.created_at.desc(), ORD.c.id)
            .limit(limit)
        )
    ).all()
    wanted = [r.id for r in order_rows]
    visitors: dict[str, list[VisitorShown]] = {}
    if wanted:
        stmt = select(VIS).where(VIS.c.order_id.in_(wanted)).order_by(VIS.c.order_id, VIS.c.idx)
        for v in (await conn.execute(stmt)).all():
            visitors.setdefault(v.order_id, []).append(shown_visitor(v, ids))
    return [
        Found(
            id=r.id,
            channel=r.channel,
            partner_order_id=r.partner_order_id,
            state=r.state,
            travel_date=r.travel_date,
            slot=r.slot,
            amount=r.amount,
            currency=r.currency,
            created_at=r.created_at,
            visitors=tuple(visitors.get(r.id, ())),
            contact_phone=mask_phone((r.contact or {}).get("phone")),
            matched=tuple(dict.fromkeys(matched[r.id])),
        )
        for r in order_rows
    ]

"""One order as the operations team sees it: its visitors (masked), tickets, and a
timeline of what happened to it, newest last.

The hub keeps no separate history table; the timeline is read from the facts each part
already records:

- the partner's messages about the order: the first answer to each keyed message
  (``idempotency``: channel, operation, the partner's key, status, error code);
- its states: created, confirmed (``orders``), each ticket revoked (``ticket.revoked_at``),
  and the current state since ``updated_at``;
- every partner call it caused (``outbox``): queued, attempts made, last error, delivered
  or dead — the outbox keeps the count of attempts and the last error, not each one;
- each gate decision on its tickets (``redemption``), with gate, device and any conflict;
- what staff did to it (``staff_audit`` lines whose target is ``order:<id>``).

Everything here that came from a partner or a visitor is shown through autoescaped
templates; ID numbers and phones are masked before they leave this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.console.audit import AUDIT
from hub.domain.masking import mask_phone
from hub.orders import records
from hub.orders.idempotency import IDEM
from hub.outbox.store import T as OUTBOX
from hub.storage.sealed import IdNumbers
from hub.storage.tables import RedemptionRow

from .search import VisitorShown, shown_visitor

ORD = records.ORD
VIS = records.VIS
TIX = records.TIX
RED = RedemptionRow.__table__
KEY_SEPARATOR = "\x1f"  # `hub.orders.idempotency.make_key`


@dataclass(frozen=True, slots=True)
class Event:
    """One line of the timeline. ``kind`` picks its wording in the template; ``data``
    holds the fields it shows (plain values, escaped when drawn)."""

    at: datetime
    kind: str  # created | confirmed | message | call | redemption | revoked | staff | state
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class OrderView:
    id: str
    channel: str
    partner_order_id: str
    venue_id: str
    state: str
    travel_date: Any
    slot: str
    amount: int
    currency: str
    refunded_amount: int
    lines: list[dict[str, Any]]
    contact_name: str
    contact_phone: str | None
    visitors: tuple[VisitorShown, ...]
    tickets: list[dict[str, Any]]
    calls: list[dict[str, Any]]
    redemptions: list[dict[str, Any]]
    events: list[Event]

    @property
    def refundable(self) -> bool:
        return self.state in ("confirmed", "partly_redeemed") and any(
            t["state"] == "valid" and not t["entries_used"] for t in self.tickets
        )

    @property
    def cancellable(self) -> bool:
        return self.state in ("held", "confirmed") and not any(
            t["entries_used"] for t in self.tickets
        )


def _message(row: Any) -> dict[str, Any]:
    channel, _, rest = row.key.partition(KEY_SEPARATOR)
    operation, _, partner_key = rest.partition(KEY_SEPARATOR)
    body = row.response or {}
    return {
        "channel": channel,
        "operation": operation,
        "partner_key": partner_key,
        "status": row.status,
        "code": "" if row.status and row.status < 300 else str(body.get("code", "")),
    }


async def load(conn: AsyncConnection, ids: IdNumbers, order_id: str) -> OrderView | None:
    row = (await conn.execute(select(ORD).where(ORD.c.id == order_id))).first()
    if row is None:
        return None
    visitors = tuple(
        shown_visitor(v, ids)
        for v in (
            await conn.execute(select(VIS).where(VIS.c.order_id == order_id).order_by(VIS.c.idx))
        ).all()
    )
    ticket_rows = (
        await conn.execute(select(TIX).where(TIX.c.order_id == order_id).order_by(TIX.c.id))
    ).all()
    tickets = [
        {
            "id": t.id,
            "product_id": t.product_id,
            "visitor_index": t.visitor_index,
            "state": t.state,
            "entries_allowed": t.entries_allowed,
            "entries_used": t.entries_used,
            "units": t.units,
            "valid_from": t.valid_from,
            "valid_until": t.valid_until,
            "revoked_at": t.revoked_at,
        }
        for t in ticket_rows
    ]
    events: list[Event] = [
        Event(row.created_at, "created", {"channel": row.channel}),
    ]
    if row.confirmed_at is not None:
        events.append(Event(row.confirmed_at, "confirmed", {"tickets": len(tickets)}))
    for t in tickets:
        if t["revoked_at"] is not None:
            events.append(Event(t["revoked_at"], "revoked", {"ticket": t["id"]}))

    for m in (
        await conn.execute(
            select(IDEM).where(IDEM.c.order_id == order_id).order_by(IDEM.c.created_at)
        )
    ).all():
        events.append(Event(m.created_at, "message", _message(m)))

    calls = [
        dict(c._mapping)
        for c in (
            await conn.execute(
                select(
                    OUTBOX.c.id,
                    OUTBOX.c.partner,
                    OUTBOX.c.kind,
                    OUTBOX.c.state,
                    OUTBOX.c.attempts,
                    OUTBOX.c.created_at,
                    OUTBOX.c.next_attempt_at,
                    OUTBOX.c.delivered_at,
                    OUTBOX.c.last_error,
                )
                .where(OUTBOX.c.order_id == order_id)
                .order_by(OUTBOX.c.id)
            )
        ).all()
    ]
    for c in calls:
        events.append(Event(c["created_at"], "call", c))
        if c["delivered_at"] is not None:
            events.append(Event(c["delivered_at"], "delivered", c))

    redemptions: list[dict[str, Any]] = []
    if tickets:
        stmt = (
            select(RED)
            .where(RED.c.ticket_id.in_([t["id"] for t in tickets]))
            .order_by(RED.c.at, RED.c.id)
        )
        for r in (await conn.execute(stmt)).all():
            item = {
                "id": r.id,
                "ticket_id": r.ticket_id,
                "gate": r.gate,
                "device": r.device,
                "medium": r.medium,
                "direction": r.direction,
                "at": r.at,
                "accepted": r.accepted,
                "code": r.code,
                "kind": r.kind,
                "bridge": r.bridge,
                "offline": r.offline,
                "counted": r.counted,
                "conflict": r.conflict,
                "staff": r.staff,
                "note": r.note,
            }
            redemptions.append(item)
            events.append(Event(r.at, "redemption", item))

    audit = await conn.execute(
        select(AUDIT).where(AUDIT.c.target == f"order:{order_id}").order_by(AUDIT.c.id)
    )
    for a in audit.all():
        events.append(
            Event(
                a.at,
                "staff",
                {"actor": a.actor, "action": a.action, "before": a.before, "after": a.after},
            )
        )
    if row.updated_at and row.updated_at != row.created_at:
        events.append(Event(row.updated_at, "state", {"state": row.state}))
    events.sort(key=lambda e: e.at)
    extra = row.extra or {}
    contact = row.contact or {}
    return OrderView(
        id=row.id,
        channel=row.channel,
        partner_order_id=row.partner_order_id,
        venue_id=row.venue_id,
        state=row.state,
        travel_date=row.travel_date,
        slot=row.slot,
        amount=row.amount,
        currency=row.currency,
        refunded_amount=int(extra.get("refunded_amount", 0)),
        lines=list(row.lines or []),
        contact_name=str(contact.get("name") or ""),
        contact_phone=mask_phone(contact.get("phone")),
        visitors=visitors,
        tickets=tickets,
        calls=calls,
        redemptions=redemptions,
        events=events,
    )

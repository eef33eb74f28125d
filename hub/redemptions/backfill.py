"""Paper tickets sold during a total outage, entered afterwards.

When nothing works (no hub, no bridge, no power for the printers) the ticket office
sells numbered paper tickets and staff let their holders in by hand. Afterwards each
paper number is entered here: it becomes an order of the ``paper`` channel (idempotent
on the paper number: entering the same sheet twice creates nothing twice) with one
ticket whose credential IS the paper number, so the bridges receive it with the next
sync and look it up when that number is scanned or typed. When the paper says it was
used, its entry is recorded like any gate decision (kind ``backfill``, with the staff
member), so the ticket is used up and a second use is refused at every gate.

Paper sales take no stock: they happened outside the system, when stock could not be
asked; the audit counts allocations, so they neither distort nor hide an oversell.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy import select

from hub.catalog import CatalogService
from hub.domain import Order, OrderLine, OrderState, Ticket
from hub.orders import records
from hub.orders.intake import new_order_id
from hub.orders.tickets import new_ticket_id
from hub.redemptions.uploads import RedemptionIn, RedemptionRecorder, UploadIn
from hub.wall.counters import FlowDelta

CHANNEL = "paper"


class PaperTicketIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    paper_no: str = Field(pattern=r"^[A-Za-z0-9\-]{4,64}$")
    used_at: AwareDatetime | None = None
    gate: str = Field(default="", max_length=64)


class BackfillIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    venue_id: str = Field(min_length=1, max_length=64)
    product_id: str = Field(min_length=1, max_length=64)
    travel_date: date
    staff: str = Field(min_length=1, max_length=64)
    note: str = Field(default="", max_length=200)
    tickets: list[PaperTicketIn] = Field(min_length=1, max_length=1000)


class BackfillError(ValueError):
    """The sheet cannot be entered as given (unknown venue or product)."""


async def backfill(
    catalog: CatalogService, recorder: RedemptionRecorder, body: BackfillIn, now: datetime
) -> dict[str, Any]:
    found = await catalog.venue(body.venue_id)
    product = await catalog.product(body.product_id)
    if found is None:
        raise BackfillError(f"unknown venue {body.venue_id}")
    if product is None or product.venue_id != body.venue_id:
        raise BackfillError(f"unknown product {body.product_id} at {body.venue_id}")
    tz = ZoneInfo(found[0].timezone)
    start = datetime.combine(body.travel_date, time(0), tz).astimezone(UTC)
    until = start + timedelta(days=product.valid_days)
    engine = recorder.engine
    tickets: dict[str, str] = {}
    created: list[str] = []
    async with engine.begin() as conn:
        ord_ = records.ORD
        tix = records.TIX
        known = await conn.execute(
            select(ord_.c.partner_order_id, tix.c.id)
            .join(tix, tix.c.order_id == ord_.c.id)
            .where(
                ord_.c.channel == CHANNEL,
                ord_.c.partner_order_id.in_([p.paper_no for p in body.tickets]),
            )
        )
        tickets.update({str(p): str(t) for p, t in known.all()})
        orders, rows = [], []
        delta = FlowDelta()
        for paper in body.tickets:
            if paper.paper_no in tickets:
                continue
            order_id = new_order_id(now)
            ticket = Ticket(
                id=new_ticket_id(),
                order_id=order_id,
                product_id=product.id,
                venue_id=body.venue_id,
                valid_from=start,
                valid_until=until,
                credential=paper.paper_no,
            )
            order = Order(
                id=order_id,
                channel=CHANNEL,
                partner_order_id=paper.paper_no,
                venue_id=body.venue_id,
                state=OrderState.CONFIRMED,
                travel_date=body.travel_date,
                lines=(OrderLine(product_id=product.id, quantity=1),),
                created_at=now,
                confirmed_at=now,
            )
            extra = {"backfill": {"staff": body.staff, "note": body.note}}
            orders.append(records.order_row(order, extra))
            rows.append(records.ticket_row(ticket, recorder.ids))
            tickets[paper.paper_no] = ticket.id
            created.append(paper.paper_no)
            delta.confirmed(
                venue_id=body.venue_id,
                channel=CHANNEL,
                travel_date=body.travel_date,
                slot="",
                amount=0,
                units=ticket.units,
                at=now,
                tz=tz,
            )
        await records.insert_many(conn, orders=orders, tickets=rows)
        await delta.flush(conn)
    used = [
        RedemptionIn(
            id=f"backfill-{p.paper_no}",
            ticket_id=tickets[p.paper_no],
            gate=p.gate,
            medium="paper",
            at=p.used_at,
            accepted=True,
            code="BACKFILL",
            kind="backfill",
            offline=True,
            staff=body.staff,
            note=body.note or "paper ticket entered after an outage",
        )
        for p in body.tickets
        if p.used_at is not None
    ]
    result = await recorder.record(body.venue_id, UploadIn(bridge="backfill", redemptions=used))
    return {
        "tickets": tickets,
        "created": created,
        "existing": sorted(set(tickets) - set(created)),
        "entries": result.as_dict(),
    }

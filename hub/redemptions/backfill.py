"""Paper tickets sold during a total outage, entered afterwards.

When nothing works (no hub, no bridge, no power for the printers) the ticket office
sells numbered paper tickets and staff let their holders in by hand. Afterwards each
paper number is entered here: it becomes an order of the ``paper`` channel (idempotent
on the paper number: entering the same sheet twice creates nothing twice) with one
ticket whose credential IS the paper number, so the bridges receive it with the next
sync and look it up when that number is scanned or typed. When the paper says it was
used, its entry is recorded like any gate decision (kind ``backfill``, with the staff
member), so the ticket is used up and a second use is refused at every gate.

Paper tickets are sales: each carries its product, slot and price (the sheet's unless
the ticket says otherwise; the product's price for the paper channel when none is
written), appears in the day report as channel ``paper``, and takes stock like any sale
— accepted over capacity and flagged for staff (`hub.redemptions.paper_stock` says why).
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy import select

from hub.catalog import CatalogService
from hub.domain import Order, OrderLine, OrderState, Ticket
from hub.domain.catalog import Product, ProductKind
from hub.inventory.daycap import cap_needs
from hub.orders import records
from hub.orders.intake import new_order_id
from hub.orders.tickets import new_ticket_id
from hub.redemptions import paper_stock
from hub.redemptions.upload_models import RedemptionIn, UploadIn
from hub.redemptions.uploads import RedemptionRecorder
from hub.wall.counters import FlowDelta

CHANNEL = "paper"
log = logging.getLogger(__name__)


class PaperTicketIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    paper_no: str = Field(pattern=r"^[A-Za-z0-9\-]{4,64}$")
    used_at: AwareDatetime | None = None
    gate: str = Field(default="", max_length=64)
    product_id: str | None = Field(default=None, min_length=1, max_length=64)
    slot: str | None = Field(default=None, max_length=32, description="the sheet's if absent")
    price: int | None = Field(default=None, ge=0, le=10_000_000, description="fen")


class BackfillIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    venue_id: str = Field(min_length=1, max_length=64)
    product_id: str = Field(min_length=1, max_length=64)
    travel_date: date
    slot: str = Field(default="", max_length=32, description="'' = all day")
    price: int | None = Field(
        default=None, ge=0, le=10_000_000, description="fen; default: the product's price"
    )
    staff: str = Field(min_length=1, max_length=64)
    note: str = Field(default="", max_length=200)
    tickets: list[PaperTicketIn] = Field(min_length=1, max_length=1000)


class BackfillError(ValueError):
    """The sheet cannot be entered as given (unknown venue or product)."""


async def _product(catalog: CatalogService, venue_id: str, product_id: str) -> Product:
    product = await catalog.product(product_id)
    if product is None or product.venue_id != venue_id:
        raise BackfillError(f"unknown product {product_id} at {venue_id}")
    return product


async def _needs(catalog: CatalogService, product: Product) -> dict[str, int]:
    if product.kind is ProductKind.COMBO:
        needs: dict[str, int] = {}
        for comp in product.components:
            part = await catalog.product(comp.product_id)
            if part is None or part.pool is None:
                raise BackfillError(f"combo {product.id}: part {comp.product_id} missing")
            needs[part.pool] = needs.get(part.pool, 0) + comp.quantity
        return needs
    assert product.pool is not None  # enforced by Product
    return {product.pool: 1}


async def backfill(
    catalog: CatalogService, recorder: RedemptionRecorder, body: BackfillIn, now: datetime
) -> dict[str, Any]:
    found = await catalog.venue(body.venue_id)
    if found is None:
        raise BackfillError(f"unknown venue {body.venue_id}")
    tz = ZoneInfo(found[0].timezone)
    start = datetime.combine(body.travel_date, time(0), tz).astimezone(UTC)
    # Every ticket's product, price and stock need, checked before anything is written.
    plan: dict[str, tuple[Product, str, int, dict[str, int]]] = {}
    for n, paper in enumerate(body.tickets, start=1):
        where = f"ticket {n} ({paper.paper_no})"
        product = await _product(catalog, body.venue_id, paper.product_id or body.product_id)
        price = paper.price if paper.price is not None else body.price
        if price is None:
            price = product.price_for(CHANNEL, body.travel_date, None)
        if price is None:
            raise BackfillError(
                f"{where}: {product.id} has no price on {body.travel_date}; "
                "write the price on the sheet"
            )
        slot = paper.slot if paper.slot is not None else body.slot
        plan[paper.paper_no] = (product, slot, price, await _needs(catalog, product))
    engine = recorder.engine
    tickets: dict[str, str] = {}
    created: list[str] = []
    over_capacity: list[str] = []
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
        orders, rows, allocations = [], [], []
        delta = FlowDelta()
        for n, paper in enumerate(body.tickets, start=1):
            if paper.paper_no in tickets:
                continue
            product, slot, price, needs = plan[paper.paper_no]
            try:
                took = await paper_stock.take(
                    conn,
                    needs,
                    body.travel_date,
                    slot,
                    cap_needs(body.venue_id, [(product.id, 1)]),
                )
            except paper_stock.NoSuchSlot as exc:
                raise BackfillError(f"ticket {n} ({paper.paper_no}): {exc}") from None
            order_id = new_order_id(now)
            ticket = Ticket(
                id=new_ticket_id(),
                order_id=order_id,
                product_id=product.id,
                venue_id=body.venue_id,
                valid_from=start,
                valid_until=start + timedelta(days=product.valid_days),
                credential=paper.paper_no,
            )
            order = Order(
                id=order_id,
                channel=CHANNEL,
                partner_order_id=paper.paper_no,
                venue_id=body.venue_id,
                state=OrderState.CONFIRMED,
                travel_date=body.travel_date,
                slot=slot,
                lines=(OrderLine(product_id=product.id, quantity=1, unit_price=price),),
                amount=price,
                created_at=now,
                confirmed_at=now,
            )
            note: dict[str, Any] = {"staff": body.staff, "note": body.note}
            if took.over_capacity:
                note["over_capacity"] = True
                over_capacity.append(paper.paper_no)
            orders.append(records.order_row(order, {"backfill": note}))
            rows.append(records.ticket_row(ticket, recorder.ids))
            allocations += [{"order_id": order_id, **a} for a in took.allocations]
            tickets[paper.paper_no] = ticket.id
            created.append(paper.paper_no)
            delta.confirmed(
                venue_id=body.venue_id,
                channel=CHANNEL,
                travel_date=body.travel_date,
                slot=slot,
                amount=price,
                units=ticket.units,
                at=now,
                tz=tz,
            )
        await records.insert_many(conn, orders=orders, tickets=rows, allocations=allocations)
        await delta.flush(conn)
    if over_capacity:
        log.warning(
            "paper tickets entered over capacity at %s on %s (staff %s): %s",
            body.venue_id,
            body.travel_date,
            body.staff,
            ", ".join(over_capacity),
        )
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
        "over_capacity": over_capacity,
        "entries": result.as_dict(),
    }

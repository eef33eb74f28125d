"""Emergency sales a bridge made while the hub was unreachable, recorded exactly once.

Each bridge order becomes an order of channel ``emergency`` whose partner order id is
the bridge's order id: the unique (channel, partner_order_id) of the orders table makes
a replay (a lost answer, a bridge restarted after a crash) find the order instead of
creating it twice, even when two uploads race. Its tickets keep the ids and the
credentials the bridge printed, so the visitor's QR code stays the ticket.

Checked before anything is written: the product is the venue's and has a pool, and every
credential verifies with the key the venue certified for THAT bridge, unrevoked when
the sale was made, and names the ticket and product of the order. A refused order is
answered with its reason (the bridge keeps it for staff) and never half-written.

Stock: the units come from the bridge's emergency bucket; a bridge that sold past what
the hub still set aside (its allotment was given back at the slot's end before the link
returned) is accepted from the common bucket and, if that is full too, over capacity and
flagged — the sale happened, the money is in the till (`hub.redemptions.paper_stock`
explains the same choice for paper tickets). Every move marks the cells stock-dirty, so
the OTAs' stock follows.

The whole-day cap (总量控制, `hub.inventory.daycap`): granting the allotment already set
its units aside in the venue's cap (and the product's, where one product uses the pool)
— `hub.emergency.capreserve` — so the online channels could not sell them while the
bridge was cut off. Each order here turns its visitors from reserved into sold in the
cap's bridge bucket, in the SAME transaction as the order and recorded among its
allocations (a refund gives them back to that bucket, the give-back at the slot's end to
the common stock). Counted exactly once: a replay answers ``duplicate`` before anything
is counted, and a racing upload's transaction rolls back whole on the unique order key.
Units the reservation does not cover (the slot's units came from the common bucket, the
cap was set after the grant, several products share the pool) are counted in the cap's
common cell; a cap already full then is counted past its capacity and the order flagged
``over_day_cap`` (answer and order note): the tickets were sold offline and the visitors
hold them, so refusing would only make the books lie; the cap then shows nothing left,
which stops the online channels.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.catalog import CatalogService
from hub.domain import Order, OrderLine, OrderState, Ticket
from hub.domain.credentials import CredentialError, CredentialVerifier, key_id_of
from hub.emergency import CHANNEL, bucket_of
from hub.emergency.keys import KEYS, K
from hub.inventory import daycap, sold
from hub.orders import records
from hub.orders.intake import new_order_id
from hub.wall.counters import FlowDelta

log = logging.getLogger(__name__)


class EmergencyTicketIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[0-9a-f]{16}$")
    credential: str = Field(min_length=1, max_length=160)


class EmergencyOrderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[A-Za-z0-9_.\-]{1,100}$", description="the bridge's order id")
    product_id: str = Field(min_length=1, max_length=64)
    travel_date: date
    slot: str = Field(default="", max_length=32)
    unit_price: int = Field(ge=0, le=10_000_000, description="fen")
    amount: int = Field(ge=0, le=100_000_000, description="fen")
    payment: Literal["cash", "external"]
    payment_ref: str = Field(default="", max_length=128)
    staff: str = Field(default="", max_length=64)
    sold_at: AwareDatetime
    tickets: list[EmergencyTicketIn] = Field(min_length=1, max_length=20)


class EmergencyUploadIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bridge: str = Field(pattern=r"^[A-Za-z0-9_.\-]{1,24}$")
    orders: list[EmergencyOrderIn] = Field(min_length=1, max_length=200)


class _Refused(Exception):
    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


async def _verifier(conn: AsyncConnection, venue_id: str, bridge_id: str, key_id: int) -> Any:
    row = (
        await conn.execute(select(KEYS).where(K.venue_id == venue_id, K.key_id == key_id))
    ).first()
    if row is None or row.bridge_id != bridge_id:
        raise _Refused("UNCERTIFIED_KEY", f"key {key_id} is not certified for {bridge_id}")
    return row


async def _check_credentials(
    conn: AsyncConnection, venue_id: str, bridge_id: str, order: EmergencyOrderIn
) -> dict[str, tuple[datetime, datetime]]:
    """Each ticket's validity, from its credential once it verifies (else `_Refused`)."""
    found: dict[str, tuple[datetime, datetime]] = {}
    for t in order.tickets:
        try:
            key_id = key_id_of(t.credential)
        except CredentialError as exc:
            raise _Refused("BAD_CREDENTIAL", f"ticket {t.id}: {exc}") from None
        row = await _verifier(conn, venue_id, bridge_id, key_id)
        if row.revoked_at is not None and order.sold_at >= row.revoked_at:
            raise _Refused("REVOKED_KEY", f"key {key_id} was revoked before this sale")
        verifier = CredentialVerifier(
            {key_id: row.public_key}, {key_id: (row.valid_from, row.valid_until)}
        )
        try:
            claims = verifier.verify(t.credential, order.sold_at)
        except CredentialError as exc:
            raise _Refused("BAD_CREDENTIAL", f"ticket {t.id}: {exc}") from None
        if claims.ticket_id != t.id or claims.product_id != order.product_id:
            raise _Refused("BAD_CREDENTIAL", f"ticket {t.id}: credential names another ticket")
        found[t.id] = (claims.valid_from, claims.valid_until)
    return found


async def _count(
    conn: AsyncConnection,
    venue_id: str,
    product: Any,
    body: EmergencyOrderIn,
    bridge_id: str,
    units: int,
) -> tuple[sold.SoldCell, list[sold.SoldCell]]:
    """Count the order in its slot (the bridge's bucket, else the common one, else the
    bridge's bucket over capacity) and then in the day's caps: from the cap's units
    reserved for this bridge when the slot's units came from its allotment (reserved
    become sold, nothing counted twice), else — or when the reservation falls short —
    from the cap's common cell, past it when full (`hub.inventory.sold`)."""
    mine = bucket_of(bridge_id)
    cap_needs = daycap.cap_needs(venue_id, [(product.id, units)])
    await sold.lock_cells(
        conn,
        [(product.pool, body.travel_date, body.slot)]
        + [(n.pool, body.travel_date, "") for n in cap_needs],
    )
    try:
        (slot_cell,) = await sold.count_sold(
            conn,
            [sold.SoldNeed(product.pool, body.slot, units, buckets=(mine, ""))],
            body.travel_date,
        )
    except sold.NoSuchCell as exc:
        raise _Refused("NO_SUCH_SLOT", str(exc)) from None
    cap_buckets = (mine, "") if slot_cell.bucket == mine and not slot_cell.over else ("",)
    caps = await sold.count_sold(
        conn,
        [
            sold.SoldNeed(n.pool, "", n.quantity, buckets=cap_buckets, overflow="", required=False)
            for n in cap_needs
        ],
        body.travel_date,
    )
    return slot_cell, caps


async def record_orders(
    catalog: CatalogService,
    engine: Any,
    ids: Any,
    venue_id: str,
    body: EmergencyUploadIn,
    now: datetime,
) -> dict[str, Any]:
    """Record each order once; answers per bridge order id ``created``, ``duplicate``
    or ``refused`` (with code and reason)."""
    found = await catalog.venue(venue_id)
    if found is None:
        raise LookupError(venue_id)
    tz = ZoneInfo(found[0].timezone)
    results: list[dict[str, Any]] = []
    for order in body.orders:
        try:
            results.append(
                await _record_one(catalog, engine, ids, venue_id, body.bridge, order, tz, now)
            )
        except _Refused as exc:
            log.warning("emergency order %s of %s refused: %s", order.id, body.bridge, exc.reason)
            results.append(
                {"id": order.id, "status": "refused", "code": exc.code, "reason": exc.reason}
            )
        except IntegrityError:  # the same order recorded by a racing upload
            results.append({"id": order.id, "status": "duplicate"})
    return {"results": results}


async def _record_one(
    catalog: CatalogService,
    engine: Any,
    ids: Any,
    venue_id: str,
    bridge_id: str,
    body: EmergencyOrderIn,
    tz: ZoneInfo,
    now: datetime,
) -> dict[str, Any]:
    product = await catalog.product(body.product_id)
    if product is None or product.venue_id != venue_id or not product.pool:
        raise _Refused("UNKNOWN_PRODUCT", f"{body.product_id} is not a single product here")
    async with engine.begin() as conn:
        existing = (
            await conn.execute(
                select(records.ORD.c.id).where(
                    records.ORD.c.channel == CHANNEL, records.ORD.c.partner_order_id == body.id
                )
            )
        ).scalar()
        if existing is not None:
            return {"id": body.id, "status": "duplicate", "order_id": existing}
        validity = await _check_credentials(conn, venue_id, bridge_id, body)
        units = len(body.tickets)
        slot_cell, caps = await _count(conn, venue_id, product, body, bridge_id, units)
        over = slot_cell.over
        over_cap = any(c.over for c in caps)
        order_id = new_order_id(now)
        tickets = [
            Ticket(
                id=t.id,
                order_id=order_id,
                product_id=product.id,
                venue_id=venue_id,
                valid_from=validity[t.id][0],
                valid_until=validity[t.id][1],
                credential=t.credential,
            )
            for t in body.tickets
        ]
        order = Order(
            id=order_id,
            channel=CHANNEL,
            partner_order_id=body.id,
            venue_id=venue_id,
            state=OrderState.CONFIRMED,
            travel_date=body.travel_date,
            slot=body.slot,
            lines=(OrderLine(product_id=product.id, quantity=units, unit_price=body.unit_price),),
            amount=body.amount,
            created_at=body.sold_at,
            confirmed_at=body.sold_at,
        )
        note: dict[str, Any] = {
            "bridge": bridge_id,
            "payment": body.payment,
            "payment_ref": body.payment_ref,
            "staff": body.staff,
            "synced_at": now.isoformat(),
        }
        if over:
            note["over_capacity"] = True
            log.warning("emergency order %s of %s entered over capacity", body.id, bridge_id)
        if over_cap:
            note["over_day_cap"] = True
            log.warning("emergency order %s of %s entered past the day cap", body.id, bridge_id)
        await records.insert_many(
            conn,
            orders=[records.order_row(order, {"emergency": note})],
            tickets=[records.ticket_row(t, ids) for t in tickets],
            allocations=[
                {"order_id": order_id, **a}
                for a in [slot_cell.allocation, *(c.allocation for c in caps)]
            ],
        )
        delta = FlowDelta()
        delta.confirmed(
            venue_id=venue_id,
            channel=CHANNEL,
            travel_date=body.travel_date,
            slot=body.slot,
            amount=body.amount,
            units=units,
            at=body.sold_at,
            tz=tz,
        )
        await delta.flush(conn)
    return {
        "id": body.id,
        "status": "created",
        "order_id": order_id,
        "over_capacity": over,
        "over_day_cap": over_cap,
    }

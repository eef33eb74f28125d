"""Replacing visitors of a confirmed real-name order, in place and in one transaction.

A travel agency's roster changes until the day before the trip: someone falls ill,
someone else comes instead. That is not a refund plus a new sale — the group's size,
stock and money do not change, and a group product's minimum size must not be tested
against the one newcomer. So the swap is its own move: the newcomers pass the product's
rules (valid ID, age …) and the per-ID counters of every channel, the leavers' counters
and tickets are released and revoked, and the newcomers get new signed tickets. All or
nothing, in the order's transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.domain import (
    Denial,
    DenialCode,
    OrderRequest,
    OrderState,
    SlotInfo,
    TicketState,
    Visitor,
)
from hub.domain.errors import DeniedError
from hub.domain.masking import mask_id
from hub.domain.rules import SaleContext
from hub.orders import claims as claim_store
from hub.orders import records
from hub.orders.prepare import TicketSpec
from hub.orders.tickets import issue
from hub.sdk.outcome import Outcome
from hub.storage.tables import OrderVisitorRow
from hub.wall.counters import FlowDelta

if TYPE_CHECKING:
    from hub.orders.lifecycle import Lifecycle

VIS = OrderVisitorRow.__table__


async def replace_visitors(
    life: Lifecycle,
    conn: AsyncConnection,
    order_id: str,
    changes: Mapping[int, Visitor],
    now: datetime,
) -> Outcome:
    order, extra = await life._load(conn, order_id)
    if order.state is not OrderState.CONFIRMED:
        raise DeniedError.of(DenialCode.INVALID_STATE, f"Order is {order.state.value}")
    if not changes:
        raise DeniedError.of(DenialCode.INVALID_REQUEST, "Nothing to replace")
    # A group ticket names nobody: swapping its visitors changes the roster and the
    # counters only, and only while nobody has entered on it.
    group = bool(extra.get("plan", {}).get("group_ticket"))
    by_visitor = {t.visitor_index: t for t in order.tickets if t.visitor_index is not None}
    for idx in changes:
        if idx < 0 or idx >= len(order.visitors) or (not group and idx not in by_visitor):
            raise DeniedError.of(DenialCode.INVALID_REQUEST, f"No visitor #{idx} in this order")
        ticket = by_visitor.get(idx)
        if ticket is not None and (ticket.state is not TicketState.VALID or ticket.entries_used):
            raise DeniedError.of(
                DenialCode.ALREADY_REDEEMED, f"Visitor #{idx}'s ticket is used or refunded"
            )
    if group and any(t.entries_used or t.state is not TicketState.VALID for t in order.tickets):
        raise DeniedError.of(DenialCode.ALREADY_REDEEMED, "The group ticket is used or refunded")

    visitors = tuple(changes.get(i, v) for i, v in enumerate(order.visitors))
    found = await life.catalog.venue(order.venue_id, conn=conn)  # never a 2nd pooled one
    if found is None:
        raise DeniedError.of(DenialCode.INVALID_STATE, "Venue no longer exists")
    venue, keys = found
    request = OrderRequest(
        channel=order.channel,
        partner_order_id=order.partner_order_id,
        venue_id=order.venue_id,
        lines=tuple(line.model_copy(update={"unit_price": None}) for line in order.lines),
        visitors=visitors,
        group_ticket=group,
        travel_date=order.travel_date,
        slot=order.slot,
        confirm=True,
    )
    new_ids = {v.id_number for i, v in changes.items() if v.id_number}
    claims = []
    for index, line in enumerate(request.lines):
        product = await life.catalog.product(line.product_id, conn=conn)
        if product is None:
            raise DeniedError.of(DenialCode.UNKNOWN_PRODUCT, f"No product {line.product_id}")
        ctx = SaleContext.for_line(
            request,
            index,
            product,
            now=now,
            tz=ZoneInfo(venue.timezone),
            slot=SlotInfo.parse(order.slot),
        )
        decision = life.catalog.rules.evaluate_sale(life.catalog.compiled_rules(product), ctx)
        if decision.denial is not None:
            raise _for_visitor(decision.denial, changes)
        claims.extend(c for c in decision.claims if c.id_number in new_ids)

    # Counters: the leavers' units go back first, then the newcomers must fit.
    leaving = {
        claim_store.id_key(life.id_secret, order.visitors[i].id_number or "") for i in changes
    }
    stored = claim_store.from_stored(extra.get("claims", []))
    await claim_store.release(conn, [c for c in stored if c[1] in leaving])
    failed = await claim_store.apply(conn, claims, life.id_secret)
    if failed is not None:
        raise DeniedError.of(
            DenialCode.ID_DAILY_LIMIT,
            f"ID {mask_id(failed.id_number)} reached its limit of {failed.limit}",
            limit=failed.limit,
            scope=failed.scope,
        )
    kept = [list(c) for c in extra.get("claims", []) if c[1] not in leaving]
    extra = {**extra, "claims": kept + claim_store.stored(claims, life.id_secret)}

    old = [] if group else [by_visitor[i] for i in sorted(changes)]
    revoked = await life.returns.revoke(conn, [t.id for t in old], now)
    if len(revoked) != len(old):
        raise DeniedError.of(DenialCode.INVALID_STATE, "Tickets changed meanwhile; retry")
    fresh = (
        issue(
            order.id,
            order.venue_id,
            keys,
            [
                TicketSpec(t.product_id, t.visitor_index, visitors[i].id_number, t.entries_allowed)
                for i, t in zip(sorted(changes), old, strict=True)
            ],
            old[0].valid_from,
            old[0].valid_until,
        )
        if old
        else []
    )
    await records.insert_many(conn, tickets=[records.ticket_row(t, life.ids) for t in fresh])
    moved = sum(t.units for t in fresh) - sum(t.units for t in old)
    if moved:  # a replaced visitor keeps the slot's units as they were
        delta = FlowDelta()
        delta.slot(order.venue_id, order.travel_date, order.slot, sold=moved)
        await delta.flush(conn)
    for i, v in changes.items():
        await conn.execute(
            update(VIS)
            .where(VIS.c.order_id == order.id, VIS.c.idx == i)
            .values(
                name=v.name,
                id_type=v.id_type.value,
                **records.visitor_id_columns(life.ids, order.id, i, v.id_number),
                phone=v.phone,
            )
        )
    await conn.execute(
        update(records.ORD).where(records.ORD.c.id == order.id).values(extra=extra, updated_at=now)
    )
    tickets = tuple(
        t.model_copy(update={"state": TicketState.REVOKED}) if t.id in revoked else t
        for t in order.tickets
    ) + tuple(fresh)
    done = order.model_copy(update={"visitors": visitors, "tickets": tickets})
    body: dict[str, Any] = {
        "order": records.order_json(done),
        # visitor index -> the new ticket (none for a group ticket, which names nobody)
        "replaced": {str(t.visitor_index): t.id for t in fresh},
        "revoked_tickets": sorted(revoked),
    }
    return Outcome(200, body, order_id=order.id)


def _for_visitor(denial: Denial, changes: Mapping[int, Visitor]) -> DeniedError:
    return DeniedError(
        Denial(denial.code, denial.reason, {**denial.details, "replacing": sorted(changes)})
    )

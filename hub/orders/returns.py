"""What undoing a sale gives back, in the transaction of the move that undoes it: units
to their pools (and whole-day caps) from the order's own allocations, money to the B2B
account it was charged to, the per-ID claims of its visitors, its tickets (revoked, so
the bridges hear of it) and the flow wall's counters.

Cancel, refund and expiry (`hub.orders.lifecycle`), a visitor swap (`hub.orders.amend`)
and a combo's part refund (`hub.orders.parts`) each give back some of these; one object
holds them so none of those reaches into another's private steps.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.accounts import store as account_store
from hub.catalog import CatalogService
from hub.domain import Order, ProductKind, Ticket, TicketState, Visitor
from hub.faces import forget_revoked
from hub.inventory import Stock, Taken
from hub.inventory.daycap import cap_needs
from hub.orders import claims as claim_store
from hub.orders import records
from hub.redemptions.changes import stamp_ids
from hub.storage.tables import AllocationRow, InventoryRow
from hub.wall.counters import FlowDelta

TIX = records.TIX
ALLOC = AllocationRow.__table__
INV = InventoryRow.__table__


class Returns:
    def __init__(self, *, catalog: CatalogService, stock: Stock, id_secret: str) -> None:
        self.catalog = catalog
        self.stock = stock
        self.id_secret = id_secret

    async def flow(
        self,
        conn: AsyncConnection,
        order: Order,
        tickets: Sequence[Ticket],
        amount: int,
        now: datetime,
    ) -> None:
        """The flow wall's counters: units and money back today, units out of the slot
        (the transaction's last writes, `hub.wall.counters`)."""
        if not tickets:
            return
        tz = await self.catalog.tz(order.venue_id, conn=conn)
        delta = FlowDelta()
        delta.given_back(
            venue_id=order.venue_id,
            channel=order.channel,
            travel_date=order.travel_date,
            slot=order.slot,
            units=sum(t.units for t in tickets),
            amount=amount,
            at=now,
            tz=tz,
        )
        await delta.flush(conn)

    async def money(
        self,
        conn: AsyncConnection,
        order: Order,
        extra: dict[str, Any],
        amount: int,
        now: datetime,
        why: str,
    ) -> None:
        """Give money back to the B2B account the order was charged to, if any; never
        more than was charged and not yet returned. Records it in `extra`, which the
        caller persists with the order's own update."""
        account = extra.get("account")
        if not account:
            return
        outstanding = int(extra.get("charged", 0)) - int(extra.get("repaid", 0))
        amount = min(int(amount), outstanding)
        if amount <= 0:
            return
        await account_store.credit(
            conn, account, amount, kind="refund", now=now, order_id=order.id, note=why
        )
        extra["repaid"] = int(extra.get("repaid", 0)) + amount

    async def revoke(
        self, conn: AsyncConnection, ticket_ids: Sequence[str], now: datetime
    ) -> set[str]:
        if not ticket_ids:
            return set()
        res = await conn.execute(
            update(TIX)
            .where(TIX.c.id.in_(list(ticket_ids)), TIX.c.state == TicketState.VALID.value)
            .values(state=TicketState.REVOKED.value, revoked_at=now)
            .returning(TIX.c.id, TIX.c.venue_id)
        )
        venue_of = {str(r.id): str(r.venue_id) for r in res.all()}
        await forget_revoked(conn, venue_of)  # a face is kept for the visit, no longer
        await stamp_ids(conn, venue_of)  # the bridges must hear of the revocation
        return set(venue_of)

    async def units(
        self, conn: AsyncConnection, order: Order, tickets: Sequence[Ticket]
    ) -> None:
        """Put refunded units back: per pool, from the order's own allocations."""
        units: dict[str, int] = defaultdict(int)
        for t in tickets:
            product = await self.catalog.product(t.product_id, conn=conn)
            if product is None:
                continue
            if product.kind is ProductKind.COMBO:
                for comp in product.components:
                    part = await self.catalog.product(comp.product_id, conn=conn)
                    if part and part.pool:
                        units[part.pool] += comp.quantity * t.units
            elif product.pool:
                units[product.pool] += t.units
            # The whole-day caps count visitors (`hub.inventory.daycap`); an order sold
            # before any cap was set has no cap allocation, and nothing is given back.
            for cap in cap_needs(order.venue_id, [(t.product_id, t.units)]):
                units[cap.pool] += cap.quantity
        await self.pool_units(conn, order, units)

    async def pool_units(
        self, conn: AsyncConnection, order: Order, units: dict[str, int]
    ) -> None:
        """Put units back per pool, from the order's own allocations (a refund of tickets,
        or of a combo's unused parts, `hub.orders.parts`)."""
        units = dict(units)
        back: list[Taken] = []
        for inv_id, pool, qty in await self.allocations(conn, order.id):
            n = min(qty, units.pop(pool, 0))
            if n:
                back.append(Taken(inv_id, n))
        if not back:
            return
        await self.stock.give_back(conn, back, sold=True)
        await conn.execute(
            update(ALLOC)
            .where(ALLOC.c.order_id == order.id, ALLOC.c.inventory_id == bindparam("p_id"))
            .values(quantity=ALLOC.c.quantity - bindparam("p_q")),
            [{"p_id": t.inventory_id, "p_q": t.quantity} for t in back],
        )

    async def claims(
        self,
        conn: AsyncConnection,
        order: Order,
        extra: dict[str, Any],
        tickets: Sequence[Ticket],
    ) -> None:
        """Free the per-ID counters of the people whose tickets were refunded: a ticket's
        holder, or for a group ticket every visitor of its line."""
        stored = claim_store.from_stored(extra.get("claims", []))
        if not stored:
            return
        holders = {t.holder_id_number for t in tickets if t.holder_id_number}
        for t in tickets:
            if t.holder_id_number is None:
                holders |= {v.id_number for v in _line_visitors(order, t.product_id) if v.id_number}
        secret_keys = {claim_store.id_key(self.id_secret, h) for h in holders}
        await claim_store.release(conn, [(s, k, d, 1) for s, k, d, _ in stored if k in secret_keys])


    async def allocations(
        self, conn: AsyncConnection, order_id: str
    ) -> list[tuple[int, str, int]]:
        rows = await conn.execute(
            select(ALLOC.c.inventory_id, INV.c.pool, ALLOC.c.quantity)
            .join(INV, INV.c.id == ALLOC.c.inventory_id)
            .where(ALLOC.c.order_id == order_id)
        )
        return [(int(i), str(p), int(q)) for i, p, q in rows.all()]


def _line_visitors(order: Order, product_id: str) -> tuple[Visitor, ...]:
    """The visitors of the line selling `product_id` (one per unit, in line order; the
    last line takes any surplus — as the rule engine assigns them)."""
    start = 0
    for n, line in enumerate(order.lines):
        end = len(order.visitors) if n == len(order.lines) - 1 else start + line.quantity
        if line.product_id == product_id:
            return order.visitors[start:end]
        start = end
    return ()

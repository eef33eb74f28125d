"""Moves of an existing order: confirm (paid), cancel, refund, expire.

Each runs in its own transaction, guarded by the order's state (a conditional update, and
a row lock on PostgreSQL), so two concurrent cancels return stock once. When the caller
gives a partner key, the move is idempotent on it like intake.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hub.catalog import CatalogService
from hub.contracts import PartnerCall
from hub.domain import DenialCode, Order, OrderState, Ticket, TicketState
from hub.domain.combo import Parts, load_parts, parts_for
from hub.domain.errors import DeniedError
from hub.domain.order import can_move
from hub.inventory import Stock, Taken
from hub.metrics import HOLDS_EXPIRED
from hub.orders import claims as claim_store
from hub.orders import idempotency, records
from hub.orders.prepare import TicketSpec
from hub.orders.returns import Returns
from hub.orders.tickets import issue
from hub.plugins import HubPlugins
from hub.sdk.outcome import Outcome
from hub.storage.sealed import IdNumbers
from hub.storage.tables import AllocationRow, InventoryRow
from hub.wall.counters import FlowDelta

ORD = records.ORD
TIX = records.TIX
ALLOC = AllocationRow.__table__
INV = InventoryRow.__table__
Enqueue = Callable[[AsyncConnection, Sequence[PartnerCall], datetime], Awaitable[int]]
Op = Callable[[AsyncConnection, datetime], Awaitable[Outcome]]


class Lifecycle:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        catalog: CatalogService,
        stock: Stock,
        plugins: HubPlugins,
        enqueue: Enqueue,
        ids: IdNumbers,
    ) -> None:
        self.engine = engine
        self.ids = ids
        self.id_secret = ids.hash_secret
        self.catalog = catalog
        self.stock = stock
        self.plugins = plugins
        self.enqueue = enqueue
        self.returns = Returns(catalog=catalog, stock=stock, id_secret=ids.hash_secret)

    async def run(self, op: Op, now: datetime, key: str | None, fingerprint: str) -> Outcome:
        async with self.engine.begin() as conn:
            if key is not None:
                new = await idempotency.reserve(conn, [(key, fingerprint)], now)
                if key not in new:
                    return (await idempotency.first_answers(conn, [(key, fingerprint)], self.ids))[
                        key
                    ]
            try:
                async with conn.begin_nested():
                    outcome = await op(conn, now)
            except DeniedError as exc:
                outcome = Outcome.denied(exc.denial)
            if key is not None:
                await idempotency.complete(conn, [(key, outcome)], self.ids)
        return outcome

    # -- the moves ------------------------------------------------------------------------
    async def _load(self, conn: AsyncConnection, order_id: str) -> tuple[Order, dict[str, Any]]:
        order = await records.load_order(conn, ids=self.ids, order_id=order_id, for_update=True)
        if order is None:
            raise DeniedError.of(DenialCode.UNKNOWN_ORDER, f"No order {order_id}")
        extra = (await conn.execute(select(ORD.c.extra).where(ORD.c.id == order_id))).scalar_one()
        return order, extra or {}

    async def _move(
        self, conn: AsyncConnection, order: Order, dst: OrderState, now: datetime, **values: Any
    ) -> None:
        """Move an order along the domain's state machine (`hub.domain.order.TRANSITIONS`),
        guarded against a concurrent move by the state it was read in."""
        if not can_move(order.state, dst):
            raise DeniedError.of(
                DenialCode.INVALID_STATE, f"Order is {order.state.value}, cannot be {dst.value}"
            )
        res = await conn.execute(
            update(ORD)
            .where(ORD.c.id == order.id, ORD.c.state == order.state.value)
            .values(state=dst.value, updated_at=now, **values)
        )
        if res.rowcount != 1:
            raise DeniedError.of(DenialCode.INVALID_STATE, "Order changed meanwhile; retry")

    async def _parts(self, conn: AsyncConnection, row: Sequence[Any]) -> Parts | None:
        """A planned ticket's combo parts: as planned at the hold; a hold planned before
        plans carried them (5th field) takes the product's parts now."""
        if len(row) > 4:
            return load_parts(row[4])
        return parts_for(await self.catalog.product(str(row[0]), conn=conn), int(row[3]))

    async def confirm(
        self, conn: AsyncConnection, order_id: str, now: datetime, *, retake: bool = False
    ) -> Outcome:
        """Paid: issue the tickets. With ``retake`` an EXPIRED order (a payment that
        landed after its hold ran out) is confirmed too if its stock can be taken again."""
        order, extra = await self._load(conn, order_id)
        if order.state in (OrderState.CONFIRMED, OrderState.PARTLY_REDEEMED, OrderState.REDEEMED):
            return Outcome(200, {"order": records.order_json(order)}, order_id=order.id)
        if order.state is OrderState.EXPIRED and retake:
            await self._retake(conn, order, extra)
        elif order.state is OrderState.EXPIRED:
            raise DeniedError.of(DenialCode.HOLD_EXPIRED, "The hold expired; stock was released")
        elif order.state is not OrderState.HELD:
            raise DeniedError.of(DenialCode.INVALID_STATE, f"Order is {order.state.value}")
        else:
            allocations = await self.returns.allocations(conn, order.id)
            await self.stock.settle(conn, [Taken(i, q) for i, _, q in allocations])
        found = await self.catalog.venue(order.venue_id, conn=conn)  # never a 2nd pooled one
        if found is None:
            raise DeniedError.of(DenialCode.INVALID_STATE, "Venue no longer exists")
        plan = extra["plan"]
        specs = []
        for row in plan["tickets"]:
            pid, idx, n, units = row[:4]
            parts = await self._parts(conn, row)
            specs.append(TicketSpec(pid, idx, _holder(order, idx), n, units, parts))
        tickets = issue(
            order.id,
            order.venue_id,
            found[1],
            specs,
            datetime.fromisoformat(plan["valid_from"]),
            datetime.fromisoformat(plan["valid_until"]),
        )
        await self._move(conn, order, OrderState.CONFIRMED, now, confirmed_at=now)
        await records.insert_many(conn, tickets=[records.ticket_row(t, self.ids) for t in tickets])
        done = replace_order(
            order, state=OrderState.CONFIRMED, confirmed_at=now, tickets=tuple(tickets)
        )
        await self._emit(conn, self.plugins.order_confirmed(done), now)
        delta = FlowDelta()
        delta.confirmed(
            venue_id=order.venue_id,
            channel=order.channel,
            travel_date=order.travel_date,
            slot=order.slot,
            amount=order.amount,
            units=sum(t.units for t in tickets),
            at=now,
            tz=ZoneInfo(found[0].timezone),
        )
        await delta.flush(conn)  # last: see `hub.wall.counters`
        return Outcome(200, {"order": records.order_json(done)}, order_id=order.id)

    async def confirm_late(
        self,
        conn: AsyncConnection,
        order_id: str,
        now: datetime,
        if_gone: Sequence[PartnerCall],
    ) -> Outcome:
        """Confirm a paid order even if its hold expired (re-taking its stock); when it
        cannot be confirmed any more (stock gone, or the order was cancelled meanwhile),
        queue `if_gone` (e.g. the refund of that payment) in this same transaction, so
        the refusal and its remedy are one durable fact."""
        try:
            async with conn.begin_nested():
                return await self.confirm(conn, order_id, now, retake=True)
        except DeniedError as exc:
            if exc.denial.code in (DenialCode.HOLD_EXPIRED, DenialCode.INVALID_STATE):
                await self._emit(conn, list(if_gone), now)
            return Outcome.denied(exc.denial)

    async def _retake(self, conn: AsyncConnection, order: Order, extra: dict[str, Any]) -> None:
        """Take an expired order's units again, straight to sold, each cell only if it
        still has room, all or none (the caller's savepoint undoes a partial take); its
        per-ID claims likewise. Orders charged to a B2B account are not revived: their
        money went back to the account at expiry."""
        gone = DeniedError.of(
            DenialCode.HOLD_EXPIRED, "The hold expired and its stock is gone", stock_gone=True
        )
        if extra.get("account"):
            raise gone
        for inv_id, _, qty in await self.returns.allocations(conn, order.id):
            res = await conn.execute(
                update(INV)
                .where(INV.c.id == inv_id, INV.c.capacity - INV.c.held - INV.c.sold >= qty)
                .values(sold=INV.c.sold + qty)
            )
            if res.rowcount != 1:
                raise gone
        if not await claim_store.reclaim(conn, extra.get("claims", [])):
            raise gone

    async def cancel(self, conn: AsyncConnection, order_id: str, now: datetime) -> Outcome:
        order, extra = await self._load(conn, order_id)
        if order.state is OrderState.CANCELLED:
            return Outcome(200, {"order": records.order_json(order)}, order_id=order.id)
        if order.state not in (OrderState.HELD, OrderState.CONFIRMED):
            raise DeniedError.of(DenialCode.INVALID_STATE, f"Order is {order.state.value}")
        if any(t.entries_used for t in order.tickets):
            raise DeniedError.of(
                DenialCode.ALREADY_REDEEMED, "Some tickets were used; refund the rest"
            )
        allocations = await self.returns.allocations(conn, order.id)
        await self.stock.give_back(
            conn, [Taken(i, q) for i, _, q in allocations], sold=order.state is OrderState.CONFIRMED
        )
        await claim_store.release(conn, claim_store.from_stored(extra.get("claims", [])))
        await self.returns.money(conn, order, extra, extra.get("charged", 0), now, "cancelled")
        revoked = await self.returns.revoke(conn, [t.id for t in order.tickets], now)
        await self._move(conn, order, OrderState.CANCELLED, now, extra=extra)
        done = replace_order(
            order, state=OrderState.CANCELLED, tickets=_mark(order.tickets, revoked)
        )
        await self._emit(conn, self.plugins.order_cancelled(done), now)
        back = [t for t in order.tickets if t.id in revoked]
        await self.returns.flow(conn, order, back, _price(order, back), now)
        return Outcome(200, {"order": records.order_json(done)}, order_id=order.id)

    async def refund(
        self, conn: AsyncConnection, order_id: str, ticket_ids: Sequence[str] | None, now: datetime
    ) -> Outcome:
        order, extra = await self._load(conn, order_id)
        if order.state not in (OrderState.CONFIRMED, OrderState.PARTLY_REDEEMED):
            raise DeniedError.of(DenialCode.INVALID_STATE, f"Order is {order.state.value}")
        by_id = {t.id: t for t in order.tickets}
        wanted = (
            list(ticket_ids)
            if ticket_ids
            else [
                t.id for t in order.tickets if t.state is TicketState.VALID and not t.entries_used
            ]
        )
        for tid in wanted:
            t = by_id.get(tid)
            if t is None:
                raise DeniedError.of(DenialCode.UNKNOWN_TICKET, f"No ticket {tid} in this order")
            if t.entries_used or t.state is TicketState.USED:
                raise DeniedError.of(DenialCode.ALREADY_REDEEMED, f"Ticket {tid} was used")
            if t.state is TicketState.REVOKED:
                raise DeniedError.of(DenialCode.INVALID_STATE, f"Ticket {tid} already refunded")
        if not wanted:
            raise DeniedError.of(DenialCode.INVALID_STATE, "Nothing left to refund")
        refunded = [by_id[t] for t in wanted]
        await self.returns.units(conn, order, refunded)
        await self.returns.claims(conn, order, extra, refunded)
        revoked = await self.returns.revoke(conn, wanted, now)
        prices = {line.product_id: line.unit_price or 0 for line in order.lines}
        this_refund = sum(prices.get(t.product_id, 0) * t.units for t in refunded)
        refunded_amount = int(extra.get("refunded_amount", 0)) + this_refund
        await self.returns.money(conn, order, extra, this_refund, now, "refunded")
        remaining = [
            t for t in order.tickets if t.id not in revoked and t.state is not TicketState.REVOKED
        ]
        dst = OrderState.REFUNDED if not remaining else order.state
        extra = {**extra, "refunded_amount": refunded_amount}
        if dst is not order.state:
            await self._move(conn, order, dst, now, extra=extra)
        else:
            await conn.execute(
                update(ORD).where(ORD.c.id == order.id).values(extra=extra, updated_at=now)
            )
        done = replace_order(order, state=dst, tickets=_mark(order.tickets, revoked))
        newly = [t for t in done.tickets if t.id in revoked]
        await self._emit(conn, self.plugins.order_refunded(done, newly), now)
        back = [t for t in refunded if t.id in revoked]
        await self.returns.flow(conn, order, back, _price(order, back), now)
        body = {
            "order": records.order_json(done),
            "refunded_tickets": sorted(revoked),
            "refunded_amount": refunded_amount,
        }
        return Outcome(200, body, order_id=order.id)

    async def expire_due(self, now: datetime, limit: int = 200) -> int:
        """Release holds whose time ran out. Several processes may sweep at once: rows are
        claimed with SKIP LOCKED on PostgreSQL and moved with a state-guarded update."""
        stmt = (
            select(ORD.c.id)
            .where(ORD.c.state == OrderState.HELD.value, ORD.c.hold_expires_at < now)
            .order_by(ORD.c.hold_expires_at)
            .limit(limit)
        )
        async with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                stmt = stmt.with_for_update(skip_locked=True)
            ids = (await conn.execute(stmt)).scalars().all()
            for order_id in ids:
                order, extra = await self._load(conn, order_id)
                allocations = await self.returns.allocations(conn, order.id)
                await self.stock.give_back(
                    conn, [Taken(i, q) for i, _, q in allocations], sold=False
                )
                await claim_store.release(conn, claim_store.from_stored(extra.get("claims", [])))
                charged = extra.get("charged", 0)
                await self.returns.money(conn, order, extra, charged, now, "expired")
                await self._move(conn, order, OrderState.EXPIRED, now, extra=extra)
                done = replace_order(order, state=OrderState.EXPIRED)
                await self._emit(conn, self.plugins.order_expired(done), now)
        HOLDS_EXPIRED.inc(len(ids))
        return len(ids)

    # -- helpers ----------------------------------------------------------------------------
    async def _emit(self, conn: AsyncConnection, calls: list[PartnerCall], now: datetime) -> None:
        if calls:
            await self.enqueue(conn, calls, now)

def _price(order: Order, tickets: Sequence[Ticket]) -> int:
    """What tickets cost (fen): their line's unit price times their units, as a refund
    reckons it."""
    prices = {line.product_id: line.unit_price or 0 for line in order.lines}
    return sum(prices.get(t.product_id, 0) * t.units for t in tickets)


def _holder(order: Order, idx: int | None) -> str | None:
    return order.visitors[idx].id_number if idx is not None else None


def _mark(tickets: Sequence[Ticket], revoked: set[str]) -> tuple[Ticket, ...]:
    return tuple(
        t.model_copy(update={"state": TicketState.REVOKED}) if t.id in revoked else t
        for t in tickets
    )


def replace_order(order: Order, **changes: Any) -> Order:
    return order.model_copy(update=changes)

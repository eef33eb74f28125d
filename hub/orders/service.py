"""The order service: what channel adapters call. One instance per application."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.accounts import AccountService
from hub.catalog import CatalogService
from hub.clock import Clock
from hub.contracts import PartnerCall
from hub.domain import Denial, DenialCode, Order, OrderRequest, Visitor
from hub.domain.order import fingerprint_json
from hub.inventory import Stock, daycap
from hub.metrics import ORDER_LATENCY, ORDERS
from hub.orders import records
from hub.orders.amend import replace_visitors
from hub.orders.idempotency import make_key
from hub.orders.intake import Enqueue, Intake, IntakeItem
from hub.orders.lifecycle import Lifecycle
from hub.orders.parts import refund_parts
from hub.orders.prepare import prepare
from hub.orders.writer import GroupCommitWriter, WriterBusy
from hub.plugins import HubPlugins
from hub.sdk.outcome import BUSY, Outcome
from hub.storage.db import reader
from hub.storage.sealed import IdNumbers
from hub.storage.tables import InventoryRow

log = logging.getLogger(__name__)


def fingerprint(*parts: Any) -> str:
    return fingerprint_json(
        [str(p) if not isinstance(p, (str, int, list, dict)) else p for p in parts]
    )


class OrderService:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        catalog: CatalogService,
        plugins: HubPlugins,
        clock: Clock,
        enqueue: Enqueue,
        ids: IdNumbers,
        hold_ttl: timedelta,
        batch_max: int = 128,
        queue_max: int | None = None,
        writer_thread: bool = False,
        unsafe_inventory: bool = False,
        on_calls: Any = None,
        on_change: Any = None,
        on_stock: Callable[[], None] | None = None,
    ) -> None:
        self.engine = engine
        self.reads = reader(engine)
        self.ids = ids  # ID numbers at rest: sealed, found by keyed hash
        self.catalog = catalog
        self.clock = clock
        self.stock = Stock()
        self.accounts = AccountService(engine, clock)
        self._on_calls = on_calls
        self._on_change = on_change  # the flow wall (`hub.wall.stream.WallFeed.touch`)
        self._on_stock = on_stock
        """Told after a commit that may have moved stock (the stock pusher's ``notify``):
        the push starts at the commit instead of at the pusher's next poll."""
        self.intake = Intake(
            engine,
            plugins=plugins,
            enqueue=enqueue,
            ids=ids,
            hold_ttl=hold_ttl,
            unsafe=unsafe_inventory,
        )
        self.lifecycle = Lifecycle(
            engine,
            catalog=catalog,
            stock=self.stock,
            plugins=plugins,
            enqueue=enqueue,
            ids=ids,
        )
        self.writer: GroupCommitWriter[IntakeItem, Outcome | None] = GroupCommitWriter(
            engine,
            self.intake.process,
            self.intake.finish,
            batch_max,
            queue_max,
            own_loop=writer_thread,
        )
        self._sweeper: asyncio.Task[None] | None = None

    # -- life --------------------------------------------------------------------------
    async def start(self, sweep_seconds: float = 1.0) -> None:
        self.writer.start()
        self._sweeper = asyncio.create_task(self._sweep(sweep_seconds), name="hold-expiry")

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        await self.writer.stop()

    async def _sweep(self, every: float) -> None:
        while True:
            try:
                while await self.lifecycle.expire_due(self.clock.now()) > 0:
                    self._stock_moved()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("hold expiry sweep failed; will retry")
            await asyncio.sleep(every)

    def _stock_moved(self) -> None:
        if self._on_stock is not None:
            self._on_stock()

    # -- intake ------------------------------------------------------------------------
    async def place(self, request: OrderRequest, operation: str = "create") -> Outcome:
        """Hold (or, with ``request.confirm``, sell) an order; idempotent on the partner's
        order id: a replay gets the first answer, a changed replay is refused. When the
        writer's admission queue is full the answer is `Outcome.busy` at once (before any
        work), and nothing is written."""
        started = time.perf_counter()
        if self.writer.full:
            return self._shed(request)
        now = self.clock.now()
        prepared = await prepare(request, self.catalog, now)
        item = IntakeItem(
            key=make_key(request.channel, operation, request.partner_order_id),
            fingerprint=request.fingerprint(),
            now=now,
            prepared=None if isinstance(prepared, Denial) else prepared,
            denial=prepared if isinstance(prepared, Denial) else None,
        )
        try:
            outcome = await self.writer.submit(item)
        except WriterBusy:  # filled up while this order was being prepared
            return self._shed(request)
        assert outcome is not None
        ORDER_LATENCY.observe(time.perf_counter() - started)
        ORDERS.labels(request.channel, "replay" if outcome.replay else (outcome.code or "ok")).inc()
        if outcome.calls and self._on_calls:
            self._on_calls()
        if outcome.ok and not outcome.replay:
            self._stock_moved()
        if self._on_change and outcome.ok and not outcome.replay and request.confirm:
            self._on_change(None)
        return outcome

    @staticmethod
    def _shed(request: OrderRequest) -> Outcome:
        ORDERS.labels(request.channel, BUSY).inc()
        return Outcome.busy()

    async def check(self, request: OrderRequest) -> Denial | None:
        """Would this order pass catalog, price and rules right now? A dry run that holds
        nothing (a partner's "verify" call). Per-ID limits across channels and stock are
        decided only when an order is placed."""
        prepared = await prepare(request, self.catalog, self.clock.now())
        return prepared if isinstance(prepared, Denial) else None

    # -- moves -------------------------------------------------------------------------
    async def confirm(self, order_id: str, *, key: str | None = None, **payment: Any) -> Outcome:
        fp = fingerprint("confirm", order_id, payment)
        return await self._run(lambda c, n: self.lifecycle.confirm(c, order_id, n), key, fp)

    async def confirm_paid(
        self,
        order_id: str,
        *,
        key: str,
        if_gone: Sequence[PartnerCall] = (),
        **payment: Any,
    ) -> Outcome:
        """A payment provider says the order was paid: confirm it, even after its hold
        expired if the stock can be taken again; otherwise answer ``HOLD_EXPIRED`` and
        queue `if_gone` (the automatic refund, a message to the visitor) in the same
        transaction. Idempotent on `key`: a duplicate notification replays the answer
        and queues nothing."""
        fp = fingerprint("confirm_paid", order_id, payment)
        outcome = await self.lifecycle.run(
            lambda c, n: self.lifecycle.confirm_late(c, order_id, n, if_gone),
            self.clock.now(),
            key,
            fp,
        )
        if self._on_calls and (outcome.ok or (if_gone and not outcome.replay)):
            self._on_calls()
        if outcome.ok and not outcome.replay:
            self._stock_moved()
        if self._on_change and outcome.ok:
            self._on_change(None)
        return outcome

    async def cancel(self, order_id: str, *, key: str | None = None) -> Outcome:
        fp = fingerprint("cancel", order_id)
        return await self._run(lambda c, n: self.lifecycle.cancel(c, order_id, n), key, fp)

    async def refund(
        self, order_id: str, ticket_ids: Sequence[str] | None = None, *, key: str | None = None
    ) -> Outcome:
        fp = fingerprint("refund", order_id, sorted(ticket_ids or []))
        return await self._run(
            lambda c, n: self.lifecycle.refund(c, order_id, ticket_ids, n), key, fp
        )

    async def refund_parts(
        self,
        order_id: str,
        ticket_id: str,
        parts: Sequence[str] | None = None,
        *,
        key: str | None = None,
    ) -> Outcome:
        """Refund unused parts of a combo ticket (`hub.orders.parts`)."""
        fp = fingerprint("refund-parts", order_id, [ticket_id, *sorted(parts or [])])
        return await self._run(
            lambda c, n: refund_parts(self.lifecycle, c, order_id, ticket_id, parts, n), key, fp
        )

    async def replace_visitors(
        self, order_id: str, changes: Mapping[int, Visitor], *, key: str | None = None
    ) -> Outcome:
        """Swap visitors of a confirmed real-name order in place (same size, stock and
        money): newcomers pass the rules and per-ID limits, leavers' tickets are revoked
        and newcomers get new ones — one transaction (`hub.orders.amend`)."""
        fp = fingerprint(
            "replace", order_id, {str(i): v.model_dump(mode="json") for i, v in changes.items()}
        )
        return await self._run(
            lambda c, n: replace_visitors(self.lifecycle, c, order_id, changes, n), key, fp
        )

    async def _run(self, op: Any, key: str | None, fp: str) -> Outcome:
        outcome = await self.lifecycle.run(op, self.clock.now(), key, fp)
        if self._on_calls and outcome.ok:
            self._on_calls()
        if outcome.ok and not outcome.replay:
            self._stock_moved()
        if self._on_change and outcome.ok:
            self._on_change(None)
        return outcome

    # -- reads -------------------------------------------------------------------------
    async def get(
        self,
        order_id: str | None = None,
        *,
        channel: str | None = None,
        partner_order_id: str | None = None,
    ) -> Order | None:
        async with self.reads.connect() as conn:
            return await records.load_order(
                conn,
                ids=self.ids,
                order_id=order_id,
                channel=channel,
                partner_order_id=partner_order_id,
            )

    async def with_id_number(self, id_number: str, limit: int = 100) -> list[str]:
        """Ids of the orders of a visitor or ticket holder with this ID number, newest
        first (found by its keyed hash: the number is stored only sealed)."""
        async with self.reads.connect() as conn:
            return await records.orders_of_id_number(conn, self.ids, id_number, limit=limit)

    async def availability(self, product_id: str, day: date, channel: str) -> dict[str, Any]:
        """Slots of a day with what one order from this channel can still get."""
        product = await self.catalog.product(product_id)
        if product is None:
            return Denial(DenialCode.UNKNOWN_PRODUCT, f"Unknown product {product_id}").as_dict()
        pools: dict[str, int] = {}
        if product.pool:
            pools[product.pool] = 1
        for comp in product.components:
            part = await self.catalog.product(comp.product_id)
            if part and part.pool:
                pools[part.pool] = comp.quantity
        inv = InventoryRow.__table__.c
        per_slot: dict[str, dict[str, Any]] = {}
        async with self.reads.connect() as conn:
            rows = (
                await conn.execute(
                    select(InventoryRow.__table__).where(inv.pool.in_(list(pools)), inv.day == day)
                )
            ).all()
        common: dict[tuple[str, str], int] = {}
        own: dict[tuple[str, str], tuple[int, bool]] = {}
        for r in rows:
            per_slot.setdefault(r.slot, {"code": r.slot, "start": r.start, "end": r.end})
            left = max(0, r.capacity - r.held - r.sold)
            if r.bucket == "":
                common[(r.slot, r.pool)] = left
            elif r.bucket == channel:
                own[(r.slot, r.pool)] = (left, r.fallback)
        # One order is served from one bucket (the allotment, else the common pool when
        # the allotment falls back), so the largest of the two is what an order can get.
        usable: dict[tuple[str, str], int] = {}
        for key in common.keys() | own.keys():
            mine, fallback = own.get(key, (0, True))
            usable[key] = max(mine, common.get(key, 0) if fallback else 0)
        # The whole-day caps bound every slot (`hub.inventory.daycap`): what the OTAs are
        # told is the lower of the slot and the day.
        async with self.reads.connect() as conn:
            day_left = await daycap.cap_free(
                conn,
                [daycap.venue_cap_pool(product.venue_id), daycap.product_cap_pool(product.id)],
                day,
            )
        slots = []
        for code, info in sorted(per_slot.items()):
            avail = min(
                (usable.get((code, pool), 0) // per for pool, per in pools.items()), default=0
            )
            if day_left is not None:
                avail = min(avail, day_left)
            slots.append({**info, "available": avail, "price": product.price_for(channel, day)})
        return {"product_id": product_id, "date": day.isoformat(), "slots": slots}

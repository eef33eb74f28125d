"""The stock pusher: from committed stock-dirty marks to one push per OTA and product.

Three steps, each its own short transaction, so any number of hub processes can run it:

1. **drain** — read the ``stock_push`` marks (`hub.inventory.marks`), expand each
   (pool, day, slot) to every (channel, product) that lists it (the registered
   `StockPusher` s that are ready × the active products drawing on the pool, directly or
   as a combo part), bump those ``stock_push_target`` rows' ``version`` and delete the
   marks. A burst of 1,000 sales between two ticks bumps each target once or a few times.
   The expansion is a read of the catalog and inventory (`hub.stockpush.targets`).
2. **queue** — for each (channel, product) with a dirty target and NO push in flight,
   queue ONE outbox call (partner ``stock:<channel>``), not before the partner's
   per-resource window after the last push. Later changes wait for that call and are
   merged into the next one: coalescing, and ordering — a product's pushes to a partner
   are strictly one after the other.
3. **deliver** (the outbox calls `deliver`) — read the dirty targets' versions, THEN the
   live stock (`OrderService.availability` for that channel: its allotment when it has
   one), hand the lines to the pusher, and on success record ``sent_version`` and free
   the lane. A change committed after the read has a higher version and is pushed next;
   a failed push is retried by the outbox and reads the stock again, so a partner never
   ends with an older number than the hub's.

A lane whose call was dead-lettered (or lost) is freed by the next tick and its targets
are queued again: a partner that was down for a day still ends with today's numbers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, bindparam, case, delete, func, or_, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hub.clock import Clock
from hub.contracts import DeliveryError, PartnerCall
from hub.sdk.stock import HEADROOM, StockLine, StockPusher, StockPusherRegistry
from hub.stockpush.lane import KIND, PARTNER_PREFIX
from hub.stockpush.targets import Targets, expand
from hub.storage.db import reader
from hub.storage.shared_limits import SharedBuckets
from hub.storage.stock_tables import StockDirtyRow, StockPushLaneRow, StockPushTargetRow
from hub.storage.tables import OutboxRow
from hub.tasks import cancel_and_wait, wait_event

if TYPE_CHECKING:
    from hub.catalog import CatalogService
    from hub.orders import OrderService
    from hub.outbox import Outbox

log = logging.getLogger(__name__)

BURST = 0.1
"""Share of the calls a minute that may go at once (see `StockPushService._allow`)."""

DIRTY = StockDirtyRow.__table__
TARGET = StockPushTargetRow.__table__
LANE = StockPushLaneRow.__table__
OUTBOX = OutboxRow.__table__
T, L = TARGET.c, LANE.c
_TARGET_KEY = [T.channel, T.product_id, T.day, T.slot]


def _insert(conn: AsyncConnection, table: Any) -> Any:
    return (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(table)


@dataclass(frozen=True, slots=True)
class Dirty:
    day: date
    slot: str
    version: int


class StockPushService:
    """Drains marks and queues pushes every ``every_seconds`` (or at `notify`), and
    delivers the queued pushes for the outbox (see the module doc)."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        pushers: StockPusherRegistry,
        catalog: CatalogService,
        clock: Clock,
        every_seconds: float = 0.1,
        batch: int = 5000,
    ) -> None:
        self.engine = engine
        self.reads = reader(engine)
        """Reads go through DEFERRED transactions: on SQLite a plain ``connect()`` begins
        IMMEDIATE, i.e. takes the write lock, and every tick's reads then queued behind
        the order writer's commits (a large share of the push lag under sales)."""
        self.pushers = pushers
        self.catalog = catalog
        self.clock = clock
        self.every_seconds = every_seconds
        self.batch = batch
        self.outbox: Outbox | None = None
        self.orders: OrderService | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.budget = SharedBuckets(engine, timer=lambda: self.clock.now().timestamp())
        """Per channel, the partner's calls a minute — held in the database, so N hub
        processes together stay within the partner's budget, not N times it."""
        self.observed: list[datetime] | None = None
        """Set to a list to collect the drained marks' times (``bench stocksync``: when
        each stock change was committed, stamped inside its transaction)."""

    def bind(self, outbox: Outbox, orders: OrderService) -> None:
        """The outbox and the order service are built after this service (the outbox's
        partner lookup needs it), so they are handed in once they exist."""
        self.outbox = outbox
        self.orders = orders

    # ------------------------------------------------------------------ the loop
    def notify(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        if self._task is None and len(self.pushers.names()):
            self._task = asyncio.create_task(self._loop(), name="stock-push")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    async def _loop(self) -> None:
        while True:
            await wait_event(self._wake, self.every_seconds)
            self._wake.clear()
            try:
                await self.run_once()
            except Exception:  # a bad tick must not end the pusher; the next one retries
                log.exception("stock push tick failed")

    def _ready(self) -> list[StockPusher]:
        return [e.obj for e in self.pushers if e.obj.ready()]

    async def run_once(self) -> int:
        """One tick: free stuck lanes, drain the marks and queue pushes; returns how many
        pushes it queued. Draining and queueing share ONE write transaction (the call
        budget's tokens too): on SQLite every write transaction waits for the write lock
        behind the order writer's commits, and under a sales burst those waits, three or
        four a tick, were most of the push lag. A tick that finds nothing to do only
        reads."""
        pushers = self._ready()
        await self._unstick()
        async with self.reads.connect() as conn:
            marks = (await conn.execute(select(DIRTY).order_by(DIRTY.c.id).limit(self.batch))).all()
        if not marks and not await self._queueable(pushers):
            return 0
        channels = [p.channel for p in pushers]
        rows = await expand(self.reads, self.catalog, marks, channels) if marks else {}
        async with self.engine.begin() as conn:
            if marks:
                await self._drain(conn, marks, rows)
            calls = await self._queue(conn, pushers)
        if calls and self.outbox is not None:
            self.outbox.notify()
        return len(calls)

    # ------------------------------------------------------------------ 1. drain
    async def _drain(
        self,
        conn: AsyncConnection,
        marks: Sequence[Any],
        rows: Targets,
    ) -> None:
        """Delete the marks, then bump the versions of the targets of those THIS
        transaction deleted (in the tick's transaction). Two ticks that read the same
        marks (two processes; the background loop and a caller's `run_once`) bump each
        target once: the second one's DELETE finds them gone. Bumped twice, a target
        asked for a second push a whole per-resource window later for nothing."""
        gone = await conn.execute(
            delete(DIRTY).where(DIRTY.c.id.in_([m.id for m in marks])).returning(DIRTY.c.id)
        )
        mine = set(gone.scalars().all())
        if self.observed is not None:
            self.observed.extend(m.changed_at for m in marks if m.id in mine)
        values = [
            {"channel": c, "product_id": p, "day": d, "slot": s, "version": 1,
             "sent_version": 0, "changed_at": at}
            for (c, p, d, s), (at, ids) in sorted(rows.items())
            if ids & mine
        ]  # fmt: skip
        if values:
            ins = _insert(conn, TARGET).values(values)
            await conn.execute(
                ins.on_conflict_do_update(
                    index_elements=_TARGET_KEY,
                    set_={
                        "version": T.version + 1,
                        "changed_at": case(
                            (T.version == T.sent_version, ins.excluded.changed_at),
                            else_=T.changed_at,
                        ),
                    },
                )
            )

    # ------------------------------------------------------------------ 2. queue
    async def _free_dirty(
        self, conn: AsyncConnection, channels: Sequence[str]
    ) -> tuple[list[tuple[str, str]], dict[tuple[str, str], Any]]:
        """(channel, product) pairs with a dirty target and no push in flight, oldest
        change first (under a partner's call budget no product waits behind busier
        ones), and their lanes."""
        dirty = (
            await conn.execute(
                select(T.channel, T.product_id, func.min(T.changed_at).label("since"))
                .where(T.version > T.sent_version, T.channel.in_(list(channels)))
                .group_by(T.channel, T.product_id)
            )
        ).all()
        keys = [(r.channel, r.product_id) for r in sorted(dirty, key=lambda r: r.since)]
        if not keys:
            return [], {}
        lanes = {
            (r.channel, r.product_id): r
            for r in (
                await conn.execute(select(LANE).where(tuple_(L.channel, L.product_id).in_(keys)))
            ).all()
        }
        return [k for k in keys if k not in lanes or lanes[k].pending_key is None], lanes

    async def _queueable(self, pushers: Sequence[StockPusher]) -> bool:
        """Is any push to queue? Read first: most ticks without marks find nothing, and a
        write transaction would take SQLite's write lock from the order writer for
        nothing."""
        if not pushers:
            return False
        async with self.reads.connect() as conn:
            free, _ = await self._free_dirty(conn, [p.channel for p in pushers])
        return bool(free)

    async def _queue(
        self, conn: AsyncConnection, pushers: Sequence[StockPusher]
    ) -> list[PartnerCall]:
        """For each free dirty (channel, product) within its partner's budget, ONE outbox
        call, not before the partner's per-resource window after the last push."""
        windows = {p.channel: p.window_seconds for p in pushers}
        budgets = {p.channel: p.calls_per_minute for p in pushers}
        if not windows:
            return []
        now = self.clock.now()
        calls: list[PartnerCall] = []
        free, lanes = await self._free_dirty(conn, list(windows))
        for channel, product in free:
            budget = budgets.get(channel)
            if budget and not await self._allow(conn, channel, budget):
                continue  # over the partner's budget: stays dirty, merged into a later push
            lane = lanes.get((channel, product))
            seq = (lane.seq if lane is not None else 0) + 1
            key = f"{PARTNER_PREFIX}{channel}:{product}:{seq}"[:200]
            if lane is None:
                res = await conn.execute(
                    _insert(conn, LANE)
                    .values(channel=channel, product_id=product, seq=seq, pending_key=key)
                    .on_conflict_do_nothing()
                )
            else:
                res = await conn.execute(
                    update(LANE)
                    .where(
                        L.channel == channel,
                        L.product_id == product,
                        L.pending_key.is_(None),
                        L.seq == lane.seq,
                    )
                    .values(seq=seq, pending_key=key)
                )
            if res.rowcount != 1:
                continue  # another process queued it
            not_before = None
            window = windows[channel]
            if lane is not None and lane.last_sent_at is not None and window > 0:
                due = lane.last_sent_at + timedelta(seconds=window)
                not_before = due if due > now else None
            calls.append(
                PartnerCall(
                    partner=f"{PARTNER_PREFIX}{channel}",
                    kind=KIND,
                    dedupe_key=key,
                    payload={"channel": channel, "product_id": product},
                    not_before=not_before,
                )
            )
        if calls and self.outbox is not None:
            await self.outbox.enqueue(conn, calls)
        return calls

    async def _allow(self, conn: AsyncConnection, channel: str, per_minute: int) -> bool:
        """A token bucket per channel whose worst minute (a full bucket, then the
        refill) stays within ``HEADROOM`` of the partner's calls a minute: a burst of
        10 % of it at once, the rest spread evenly — no burst followed by a long stall.
        Taken in the tick's transaction (`SharedBuckets.allow_in`)."""
        burst = max(1, int(per_minute * BURST))
        rate = max(per_minute * HEADROOM - burst, 1.0) / 60.0
        return await self.budget.allow_in(conn, f"stockpush:{channel}", rate, burst)

    async def _unstick(self) -> None:
        """Free lanes whose call ended without `deliver` freeing them (dead-lettered,
        or done by a worker that crashed before its bookkeeping)."""
        async with self.reads.connect() as conn:
            stuck = (
                (
                    await conn.execute(
                        select(L.pending_key)
                        .select_from(LANE.outerjoin(OUTBOX, OUTBOX.c.dedupe_key == L.pending_key))
                        .where(
                            L.pending_key.is_not(None),
                            or_(OUTBOX.c.id.is_(None), OUTBOX.c.state.in_(("done", "dead"))),
                        )
                    )
                )
                .scalars()
                .all()
            )
        if stuck:
            async with self.engine.begin() as conn:
                await conn.execute(
                    update(LANE).where(L.pending_key.in_(list(stuck))).values(pending_key=None)
                )

    # ------------------------------------------------------------------ 3. deliver
    async def deliver(self, call: PartnerCall) -> None:
        channel = str(call.payload.get("channel", ""))
        product = str(call.payload.get("product_id", ""))
        pusher = self.pushers.find(channel)
        if pusher is None or self.orders is None:
            raise DeliveryError(f"no stock pusher for channel {channel!r}", retryable=False)
        async with self.reads.connect() as conn:
            dirty = [
                Dirty(r.day, r.slot, int(r.version))
                for r in (
                    await conn.execute(
                        select(T.day, T.slot, T.version)
                        .where(
                            T.channel == channel,
                            T.product_id == product,
                            T.version > T.sent_version,
                        )
                        .order_by(T.day, T.slot)
                        .limit(max(1, pusher.batch_max))
                    )
                ).all()
            ]
        lines = await self.lines(product, channel, dirty) if dirty else []
        if lines:
            await pusher.push(product, lines)
        await self._landed(call.dedupe_key, channel, product, dirty, lines)

    async def lines(self, product: str, channel: str, dirty: Iterable[Dirty]) -> list[StockLine]:
        """Every slot of each changed day, from live stock (read AFTER the versions)."""
        assert self.orders is not None
        wanted = list(dirty)
        out: list[StockLine] = []
        for day in sorted({d.day for d in wanted}):
            avail = await self.orders.availability(product, day, channel)
            seen = set()
            for s in avail.get("slots", ()):
                code = str(s.get("code", ""))
                seen.add(code)
                out.append(
                    StockLine(day, code, str(s.get("start", "")), str(s.get("end", "")),
                              max(0, int(s.get("available", 0))))
                )  # fmt: skip
            for d in wanted:  # a slot that is gone sells nothing
                if d.day == day and d.slot not in seen:
                    out.append(StockLine(day, d.slot, "00:00", "23:59", 0))
        return out

    async def _landed(
        self,
        key: str,
        channel: str,
        product: str,
        dirty: Sequence[Dirty],
        lines: Sequence[StockLine],
    ) -> None:
        now = self.clock.now()
        told = {(ln.day, ln.slot): ln.quantity for ln in lines}
        async with self.engine.begin() as conn:
            if dirty:
                await conn.execute(
                    update(TARGET)
                    .where(
                        T.channel == channel,
                        T.product_id == product,
                        T.day == bindparam("p_day"),
                        T.slot == bindparam("p_slot"),
                        T.sent_version < bindparam("p_version"),
                    )
                    .values(
                        sent_version=bindparam("p_version"),
                        sent_quantity=bindparam("p_quantity"),
                        sent_at=now,
                    ),
                    [
                        {"p_day": d.day, "p_slot": d.slot, "p_version": d.version,
                         "p_quantity": told.get((d.day, d.slot), 0)}
                        for d in dirty
                    ],
                )  # fmt: skip
            await conn.execute(
                update(LANE)
                .where(and_(L.channel == channel, L.product_id == product, L.pending_key == key))
                .values(pending_key=None, last_sent_at=now if lines else LANE.c.last_sent_at)
            )
        self.notify()  # more may have changed meanwhile: queue the next push now

    async def told(self, channel: str, product: str) -> dict[tuple[date, str], int | None]:
        """What the hub last told ``channel`` of ``product`` per (day, slot)."""
        async with self.reads.connect() as conn:
            rows = (
                await conn.execute(
                    select(T.day, T.slot, T.sent_quantity).where(
                        T.channel == channel, T.product_id == product
                    )
                )
            ).all()
        return {(r.day, r.slot): r.sent_quantity for r in rows}

"""Capacity and allotments, set by venue staff, and the audit that counts what was sold.

A slot's capacity is the sum of its buckets: the common bucket plus one bucket per channel
allotment. Moving capacity between them is one conditional update each, so staff can never
take away units that are already held or sold.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, time
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.domain import SlotInfo
from hub.domain.errors import DeniedError
from hub.inventory.marks import mark_cells
from hub.storage.tables import AllocationRow, InventoryRow, OrderRow, ProductRow

if TYPE_CHECKING:
    from hub.contracts import PartnerCall
    from hub.plugins import HubPlugins

INV = InventoryRow.__table__
C = INV.c
LIVE_STATES = ("held", "confirmed", "partly_redeemed", "redeemed")


@dataclass(frozen=True, slots=True)
class SlotCapacity:
    code: str
    capacity: int


def _hhmm(t: time) -> str:
    return t.strftime("%H:%M")


CapacityListener = Callable[[AsyncConnection, str, list[date]], Awaitable[None]]
"""Told, inside the capacity transaction, which days of a pool changed."""


async def venues_of_pool(conn: AsyncConnection, pool: str) -> list[str]:
    """Venues whose products draw on ``pool`` (a pool belongs to one venue in practice;
    products keep their pool in their JSON document, so this reads the few rows)."""
    rows = (await conn.execute(select(ProductRow.venue_id, ProductRow.doc))).all()
    return sorted({v for v, doc in rows if isinstance(doc, dict) and doc.get("pool") == pool})


def capacity_notifier(
    plugins: HubPlugins,
    enqueue: Callable[[AsyncConnection, Sequence[PartnerCall]], Awaitable[int]],
) -> CapacityListener:
    """Fire the ``capacity_changed`` hook and queue the partner calls it returns in the
    SAME transaction as the change (like `hub.orders.lifecycle` does for order events),
    so partners mirroring stock hear of a change if and only if it is committed. A pool
    no product uses yet sells nothing, so nobody is told."""

    async def notify(conn: AsyncConnection, pool: str, days: list[date]) -> None:
        for venue_id in await venues_of_pool(conn, pool):
            calls = plugins.capacity_changed(venue_id, pool, days)
            if calls:
                await enqueue(conn, calls)

    return notify


async def _cells(conn: AsyncConnection, pool: str, day: date, slot: str) -> dict[str, Any]:
    rows = (
        await conn.execute(select(INV).where(C.pool == pool, C.day == day, C.slot == slot))
    ).all()
    return {r.bucket: r for r in rows}


async def set_capacity(
    conn: AsyncConnection,
    pool: str,
    days: Iterable[date],
    slots: Sequence[SlotCapacity],
    *,
    on_changed: CapacityListener | None = None,
) -> int:
    """Set the TOTAL capacity of each slot on each day; allotments keep their share.
    ``on_changed`` hears the days (see `capacity_notifier`) in this transaction."""
    changed = 0
    touched: list[date] = []
    for day in days:
        touched.append(day)
        for s in slots:
            info = SlotInfo.parse(s.code)
            cells = await _cells(conn, pool, day, s.code)
            allotted = sum(r.capacity for b, r in cells.items() if b != "")
            common = s.capacity - allotted
            if common < 0:
                raise DeniedError.of(
                    "CAPACITY_BELOW_ALLOTMENTS",
                    f"{day} {s.code or 'all day'}: allotments already take {allotted}",
                )
            if "" not in cells:
                await conn.execute(
                    insert(INV).values(
                        pool=pool,
                        day=day,
                        slot=s.code,
                        bucket="",
                        start=_hhmm(info.start),
                        end=_hhmm(info.end),
                        capacity=common,
                        held=0,
                        sold=0,
                        fallback=True,
                    )
                )
            else:
                res = await conn.execute(
                    update(INV)
                    .where(C.id == cells[""].id, C.held + C.sold <= common)
                    .values(capacity=common)
                )
                if res.rowcount != 1:
                    raise DeniedError.of(
                        "CAPACITY_BELOW_SOLD",
                        f"{day} {s.code or 'all day'}: more than {s.capacity} already taken",
                    )
            changed += 1
    await mark_cells(conn, [(pool, d, s.code) for d in touched for s in slots])
    if on_changed is not None and changed:
        await on_changed(conn, pool, touched)
    return changed


async def set_allotment(
    conn: AsyncConnection,
    *,
    pool: str,
    days: Iterable[date],
    slot: str | None,
    channel: str,
    quantity: int,
    fallback: bool,
    on_changed: CapacityListener | None = None,
) -> int:
    """Reserve `quantity` units of each slot for one channel, taken from the common bucket.
    What each channel can sell moves, so ``on_changed`` hears the days too.

    A pool whose capacity was never set is refused (``UNKNOWN_POOL``, naming the field),
    and so is a range in which nothing could be reserved (``SLOT_NOT_USABLE``): staff who
    mistype a pool hear so instead of "0 cells" and an allotment that does nothing."""
    known = (await conn.execute(select(C.id).where(C.pool == pool).limit(1))).first()
    if known is None:
        raise DeniedError.of(
            "UNKNOWN_POOL",
            f"pool: no capacity was ever set for pool {pool!r}",
            errors=[{"field": "pool", "problem": "unknown pool: set its capacity first"}],
        )
    days = list(days)
    changed = 0
    touched: list[date] = []
    marks: list[tuple[str, date, str]] = []
    for day in days:
        touched.append(day)
        codes = (
            [slot]
            if slot is not None
            else (
                await conn.execute(
                    select(C.slot).where(C.pool == pool, C.day == day, C.bucket == "")
                )
            )
            .scalars()
            .all()
        )
        for code in codes:
            cells = await _cells(conn, pool, day, code)
            if "" not in cells:
                raise DeniedError.of(
                    "SLOT_NOT_USABLE", f"{day} {code or 'all day'}: no capacity set"
                )
            old = cells.get(channel)
            delta = quantity - (old.capacity if old else 0)
            res = await conn.execute(
                update(INV)
                .where(C.id == cells[""].id, C.capacity - delta - C.held - C.sold >= 0)
                .values(capacity=C.capacity - delta)
            )
            if res.rowcount != 1:
                raise DeniedError.of(
                    "NOT_ENOUGH_FREE_CAPACITY", f"{day} {code or 'all day'}: not {delta} free units"
                )
            if old is None:
                base = cells[""]
                await conn.execute(
                    insert(INV).values(
                        pool=pool,
                        day=day,
                        slot=code,
                        bucket=channel,
                        start=base.start,
                        end=base.end,
                        capacity=quantity,
                        held=0,
                        sold=0,
                        fallback=fallback,
                    )
                )
            else:
                res = await conn.execute(
                    update(INV)
                    .where(C.id == old.id, C.held + C.sold <= quantity)
                    .values(capacity=quantity, fallback=fallback)
                )
                if res.rowcount != 1:
                    raise DeniedError.of(
                        "CAPACITY_BELOW_SOLD", f"{channel} already took more than {quantity}"
                    )
            changed += 1
            marks.append((pool, day, code))
    if not changed:
        span = f"{days[0]}..{days[-1]}" if days else "no day"
        raise DeniedError.of("SLOT_NOT_USABLE", f"{pool} {span}: no capacity set in that range")
    await mark_cells(conn, marks)
    if on_changed is not None and changed:
        await on_changed(conn, pool, touched)
    return changed


async def list_cells(conn: AsyncConnection, pool: str, day: date) -> list[dict[str, Any]]:
    rows = (
        await conn.execute(
            select(INV).where(C.pool == pool, C.day == day).order_by(C.slot, C.bucket)
        )
    ).all()
    return [
        {
            "slot": r.slot,
            "bucket": r.bucket,
            "start": r.start,
            "end": r.end,
            "capacity": r.capacity,
            "held": r.held,
            "sold": r.sold,
            "available": r.capacity - r.held - r.sold,
            "fallback": r.fallback,
        }
        for r in rows
    ]


async def audit(conn: AsyncConnection, pool: str, day: date) -> list[dict[str, Any]]:
    """Count the units of live orders per slot from the ORDERS (their allocations), not
    from the counters, and compare with capacity: `oversold` must always be 0."""
    alloc = AllocationRow.__table__.c
    orders = OrderRow.__table__.c
    counted = (
        await conn.execute(
            select(C.slot, func.coalesce(func.sum(alloc.quantity), 0))
            .select_from(
                INV.join(AllocationRow.__table__, alloc.inventory_id == C.id).join(
                    OrderRow.__table__, orders.id == alloc.order_id
                )
            )
            .where(C.pool == pool, C.day == day, orders.state.in_(LIVE_STATES))
            .group_by(C.slot)
        )
    ).all()
    allocated: dict[str, int] = defaultdict(int, {s: int(n) for s, n in counted})
    capacity = (
        await conn.execute(
            select(C.slot, func.sum(C.capacity), func.sum(C.held), func.sum(C.sold))
            .where(C.pool == pool, C.day == day)
            .group_by(C.slot)
            .order_by(C.slot)
        )
    ).all()
    return [
        {
            "slot": slot,
            "capacity": int(cap),
            "held": int(held),
            "sold": int(sold),
            "allocated": allocated[slot],
            "oversold": max(0, allocated[slot] - int(cap)),
        }
        for slot, cap, held, sold in capacity
    ]

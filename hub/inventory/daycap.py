"""The whole-day cap (总量控制): at most N visitors a day per venue, and per product where
set, across every slot and every channel.

Decision: a cap is ONE MORE INVENTORY CELL — pool ``~venue:<venue id>`` (or
``~product:<product id>``), slot ``""``, bucket ``""`` — taken in the same batch and
under the same lock as the slot's cells, and recorded among the order's allocations.
So the group-commit writer (`hub.inventory.ledger`) locks it with the slot cells in one
sorted ``SELECT … FOR UPDATE`` and writes it with the same guarded delta (never a read
then a write), and everything that already moves an order's allocations — confirm,
cancel, expiry, refund, a late payment's retake, the stock-dirty marks — moves the cap
too without new code paths. A day with no cap cell has no cap (nothing is locked).

Units set aside for a bridge's emergency allotment are a bucket of the cap cell
(``emergency:<bridge>``, `hub.emergency.capreserve`), moved out of the common cell the
online channels take from: the cap's capacity is the sum of its buckets, like a slot's.

The cap counts visitors: each order line's quantity (a combo admits one visitor once, a
group ticket its quantity), not the pool units a combo draws from its parts.

``~`` cannot start a pool a product names by accident in practice (pools are staff ids
such as ``main-gate``); `is_cap_pool` is how the rest of the hub tells the two apart.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.domain.errors import DeniedError
from hub.inventory.marks import mark_cells
from hub.inventory.stock import Need
from hub.storage.tables import AllocationRow, InventoryRow, OrderRow

INV = InventoryRow.__table__
C = INV.c
ALLOC = AllocationRow.__table__
ORD = OrderRow.__table__
CAP_PREFIX = "~"
LIVE_STATES = ("held", "confirmed", "partly_redeemed", "redeemed")


def venue_cap_pool(venue_id: str) -> str:
    return f"{CAP_PREFIX}venue:{venue_id}"


def product_cap_pool(product_id: str) -> str:
    return f"{CAP_PREFIX}product:{product_id}"


def is_cap_pool(pool: str) -> bool:
    return pool.startswith(CAP_PREFIX)


def cap_needs(venue_id: str, lines: Iterable[tuple[str, int]]) -> tuple[Need, ...]:
    """The cap cells one order would take: (product id, visitors) per line → the venue's
    cap for all of them, each product's cap for its own. Sorted, like the slot needs."""
    per: dict[str, int] = defaultdict(int)
    for product_id, quantity in lines:
        per[venue_cap_pool(venue_id)] += quantity
        per[product_cap_pool(product_id)] += quantity
    return tuple(Need(pool, q) for pool, q in sorted(per.items()))


async def _taken_by_orders(
    conn: AsyncConnection, venue_id: str, product_id: str | None, day: date
) -> list[tuple[str, str, int]]:
    """(order id, state, visitors) of the live orders of that day the cap must count,
    from their lines (paper tickets included: they are orders of channel ``paper``)."""
    rows = (
        await conn.execute(
            select(ORD.c.id, ORD.c.state, ORD.c.lines).where(
                ORD.c.venue_id == venue_id,
                ORD.c.travel_date == day,
                ORD.c.state.in_(LIVE_STATES),
            )
        )
    ).all()
    out = []
    for order_id, state, lines in rows:
        n = sum(
            int(line.get("quantity", 0))
            for line in lines or []
            if product_id is None or line.get("product_id") == product_id
        )
        if n:
            out.append((str(order_id), str(state), n))
    return out


async def set_day_cap(
    conn: AsyncConnection,
    venue_id: str,
    days: Sequence[date],
    capacity: int,
    *,
    product_id: str | None = None,
) -> int:
    """Set the cap on each day. A new cap cell starts with the day's live orders already
    counted (and recorded as their allocations, so their refunds give the cap back);
    lowering a cap below what is taken is refused (``CAPACITY_BELOW_SOLD``), and below
    what emergency allotments set aside (``CAPACITY_BELOW_ALLOTMENTS``), as for a slot.
    Marks the cap changed for the stock pusher."""
    pool = product_cap_pool(product_id) if product_id else venue_cap_pool(venue_id)
    for day in days:
        stmt = select(C.id).where(C.pool == pool, C.day == day, C.slot == "", C.bucket == "")
        if conn.dialect.name == "postgresql":
            stmt = stmt.with_for_update()
        cell = (await conn.execute(stmt)).scalar()
        if cell is None:
            taken = await _taken_by_orders(conn, venue_id, product_id, day)
            held = sum(n for _, s, n in taken if s == "held")
            sold = sum(n for _, s, n in taken if s != "held")
            if held + sold > capacity:
                raise DeniedError.of(
                    "CAPACITY_BELOW_SOLD", f"{day}: {held + sold} visitors already booked"
                )
            cell = (
                await conn.execute(
                    insert(INV)
                    .values(pool=pool, day=day, slot="", bucket="", capacity=capacity,
                            held=held, sold=sold, fallback=True)
                    .returning(C.id)
                )
            ).scalar_one()  # fmt: skip
            if taken:
                await conn.execute(
                    insert(ALLOC),
                    [{"order_id": o, "inventory_id": cell, "quantity": n} for o, _, n in taken],
                )
        else:
            # Units set aside for emergency allotments are buckets of the cap and keep
            # their share: the common cell gets the rest (like a slot's allotments).
            reserved = (
                await conn.execute(
                    select(func.coalesce(func.sum(C.capacity), 0)).where(
                        C.pool == pool, C.day == day, C.slot == "", C.bucket != ""
                    )
                )
            ).scalar()
            common = capacity - int(reserved or 0)
            if common < 0:
                raise DeniedError.of(
                    "CAPACITY_BELOW_ALLOTMENTS",
                    f"{day}: emergency allotments already take {int(reserved or 0)}",
                )
            res = await conn.execute(
                update(INV).where(C.id == cell, C.held + C.sold <= common).values(capacity=common)
            )
            if res.rowcount != 1 and reserved:
                raise DeniedError.of(
                    "CAPACITY_BELOW_ALLOTMENTS",
                    f"{day}: emergency allotments set {int(reserved)} aside and more than "
                    f"{common} other visitors are already booked",
                )
            if res.rowcount != 1:
                raise DeniedError.of(
                    "CAPACITY_BELOW_SOLD", f"{day}: more than {capacity} visitors already booked"
                )
    await mark_cells(conn, [(pool, d, "") for d in days])
    return len(days)


async def caps_of_day(
    conn: AsyncConnection, pools: Iterable[str], day: date
) -> dict[str, dict[str, Any]]:
    """The cap cells of ``pools`` on ``day`` as the inventory views show them: the whole
    cap (its common cell plus the units set aside for emergency allotments, which are
    buckets of the cap — `hub.emergency.capreserve`), what is ``reserved`` and not yet
    sold there, and what the online channels can still sell (``available``)."""
    rows = (
        await conn.execute(
            select(C.pool, C.bucket, C.capacity, C.held, C.sold).where(
                C.pool.in_(sorted(set(pools))), C.day == day, C.slot == ""
            )
        )
    ).all()
    out: dict[str, dict[str, Any]] = {}
    for r in sorted(rows, key=lambda r: r.bucket):  # the common cell ("") first
        if r.bucket == "":
            out[r.pool] = {
                "pool": r.pool,
                "capacity": int(r.capacity),
                "held": int(r.held),
                "sold": int(r.sold),
                "reserved": 0,
                "available": max(0, int(r.capacity) - int(r.held) - int(r.sold)),
            }
        elif r.pool in out:
            cap = out[r.pool]
            cap["capacity"] += int(r.capacity)
            cap["held"] += int(r.held)
            cap["sold"] += int(r.sold)
            cap["reserved"] += max(0, int(r.capacity) - int(r.held) - int(r.sold))
    return out


async def cap_free(conn: AsyncConnection, pools: Iterable[str], day: date) -> int | None:
    """The least free of the caps among ``pools`` that day for the online channels
    (None: no cap); units reserved for emergency allotments are not free."""
    caps = await caps_of_day(conn, pools, day)
    return min((c["available"] for c in caps.values()), default=None)


async def count_day(conn: AsyncConnection, pool: str, day: date) -> int:
    """Visitors the cap counted that day (tests and the audit)."""
    got = (
        await conn.execute(
            select(func.coalesce(func.sum(C.held + C.sold), 0)).where(C.pool == pool, C.day == day)
        )
    ).scalar()
    return int(got or 0)

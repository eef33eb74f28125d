"""Stock for paper tickets entered after an outage: they are sales, so they take stock.

Decision: a paper ticket is ACCEPTED even when its slot is already full, and flagged
``over_capacity`` for staff. The sale happened — the money is in the till and the
visitor has (or will have) walked in; refusing to record it would make the books, the
day report and the reconciliation lie, while recording it still stops the online channels
from selling what the paper already took. What cannot be entered is a paper ticket for a
slot the venue never opened that day (no inventory cell): that is a mistake on the
sheet, refused with the paper number.

Units come from the common bucket (the paper channel has no allotment) with one relative
update per cell (``sold = sold + n``: safe beside the order writer, whose guarded delta
sees the change and retries), and are recorded as the order's allocations, so a refund of
a paper ticket gives them back like any other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.storage.tables import InventoryRow

INV = InventoryRow.__table__
C = INV.c


class NoSuchSlot(LookupError):
    """The venue sold no such slot that day: nothing to take stock from."""


@dataclass(frozen=True, slots=True)
class PaperTake:
    allocations: list[dict[str, int]]  # inventory_id, quantity (order_id added by caller)
    over_capacity: bool


async def take(conn: AsyncConnection, needs: Mapping[str, int], day: date, slot: str) -> PaperTake:
    """Take `needs` (pool -> units) on `day` in `slot` from the common buckets."""
    allocations: list[dict[str, int]] = []
    over = False
    for pool, quantity in sorted(needs.items()):
        stmt = select(C.id).where(C.pool == pool, C.day == day, C.slot == slot, C.bucket == "")
        if conn.dialect.name == "postgresql":
            stmt = stmt.with_for_update()
        cell = (await conn.execute(stmt)).scalar()
        if cell is None:
            raise NoSuchSlot(f"pool {pool} has no slot {slot or '(all day)'} on {day}")
        counts = (
            await conn.execute(
                update(INV)
                .where(C.id == cell)
                .values(sold=C.sold + quantity)
                .returning(C.capacity, C.held, C.sold)
            )
        ).one()
        over = over or counts.held + counts.sold > counts.capacity
        allocations.append({"inventory_id": int(cell), "quantity": quantity})
    return PaperTake(allocations, over)

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

The whole-day caps of the venue and the product (`hub.inventory.daycap`) count paper
tickets the same way: taken when the day has one, over it accepted and flagged. Every
cell moved is marked for the stock pusher, so the OTAs hear what the paper took.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.inventory.marks import mark_ids
from hub.inventory.stock import Need
from hub.storage.tables import InventoryRow

INV = InventoryRow.__table__
C = INV.c


class NoSuchSlot(LookupError):
    """The venue sold no such slot that day: nothing to take stock from."""


@dataclass(frozen=True, slots=True)
class PaperTake:
    allocations: list[dict[str, int]]  # inventory_id, quantity (order_id added by caller)
    over_capacity: bool


async def take(
    conn: AsyncConnection,
    needs: Mapping[str, int],
    day: date,
    slot: str,
    caps: Sequence[Need] = (),
) -> PaperTake:
    """Take `needs` (pool -> units) on `day` in `slot` from the common buckets, and
    `caps` from the day's cap cells that exist."""
    allocations: list[dict[str, int]] = []
    over = False
    wanted = [(pool, slot, q, True) for pool, q in sorted(needs.items())]
    wanted += [(c.pool, "", c.quantity, False) for c in caps]
    for pool, at, quantity, required in wanted:
        stmt = select(C.id).where(C.pool == pool, C.day == day, C.slot == at, C.bucket == "")
        if conn.dialect.name == "postgresql":
            stmt = stmt.with_for_update()
        cell = (await conn.execute(stmt)).scalar()
        if cell is None and not required:
            continue  # no cap that day
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
    await mark_ids(conn, [a["inventory_id"] for a in allocations])
    return PaperTake(allocations, over)

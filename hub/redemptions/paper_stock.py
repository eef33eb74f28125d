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

from sqlalchemy.ext.asyncio import AsyncConnection

from hub.inventory import sold
from hub.inventory.stock import Need


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
    `caps` from the day's cap cells that exist (`hub.inventory.sold`, the loop the
    emergency intake shares)."""
    wanted = [sold.SoldNeed(pool, slot, q) for pool, q in sorted(needs.items())]
    wanted += [sold.SoldNeed(c.pool, "", c.quantity, required=False) for c in caps]
    try:
        cells = await sold.count_sold(conn, wanted, day)
    except sold.NoSuchCell as exc:
        raise NoSuchSlot(str(exc)) from None
    return PaperTake([c.allocation for c in cells], any(c.over for c in cells))

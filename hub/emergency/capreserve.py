"""The whole-day cap's share set aside for a bridge's emergency allotment.

Why: an allotment is sold OFFLINE, so the hub only hears of its sales when the link
returns. Were its units counted against the day cap (`hub.inventory.daycap`) only then,
the online channels could fill the cap while the bridge is cut off and the venue would
end the day over its safety limit. So granting an allotment also sets its units aside
in the day cap, in the same transaction, exactly as the allotment sets them aside in the
slot: the cap is a pool of cells too, so the set-aside is a bucket of the cap cell —
pool ``~venue:<venue>`` (and ``~product:<product>``), slot ``""``, bucket
``emergency:<bridge>`` — whose capacity is moved out of the cap's common cell (bucket
``""``). The online channels only ever take the common cell (`hub.inventory.ledger`),
and what the OTAs are shown is its free units (`hub.orders.service`), so the reserved
units are neither sold nor offered online.

- Granting or raising reserves the difference; a cap without the room refuses the grant
  (``NOT_ENOUGH_DAY_CAP``) — promising a bridge units the day cannot admit would only
  move the overshoot to the evening. Lowering releases the difference (the slot's own
  check already made sure those units are unsold).
- An emergency order arriving takes the cap's units from the bridge's bucket
  (`hub.emergency.intake`): reserved units become sold ones, nothing counted twice. A
  refund gives them back to that bucket, like the slot's units go back to the slot's
  allotment; the give-back at the slot's end then returns both to the common cells.
- Product caps: an allotment is of a POOL, and the bridge may sell any product drawing
  on it. When exactly one single product draws on the pool its cap is reserved too;
  when several do, which product's cap the sales will hit is unknown, so only the
  venue's cap is reserved and a product cap can still be passed (flagged
  ``over_day_cap`` at intake, one of the odd cases).
- Reservations are per bridge and day (one bucket per cap cell), summed over the
  bridge's slots and pools that day; each grant, give-back and sale moves exactly its
  own units, so the bucket's free units are the sum of the allotments' unsold units.
  A cap set AFTER a grant does not reserve it (the cap starts from the orders), and the
  next change of that allotment only moves the difference: such a bridge's sales fall
  back to the cap's common cell and, when it is full, are flagged ``over_day_cap``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.domain.errors import DeniedError
from hub.inventory import daycap
from hub.inventory.marks import mark_cells
from hub.storage.tables import InventoryRow, ProductRow

INV = InventoryRow.__table__
C = INV.c


async def cap_pools_of(conn: AsyncConnection, pool: str) -> list[str]:
    """The cap pools an allotment of ``pool`` reserves in: the venue cap of every venue
    whose single products draw on it, and the product cap when only one does."""
    rows = (await conn.execute(select(ProductRow.id, ProductRow.venue_id, ProductRow.doc))).all()
    users = [
        (pid, vid) for pid, vid, doc in rows if isinstance(doc, dict) and doc.get("pool") == pool
    ]
    pools = {daycap.venue_cap_pool(vid) for _, vid in users}
    if len(users) == 1:
        pools.add(daycap.product_cap_pool(users[0][0]))
    return sorted(pools)


async def _common(conn: AsyncConnection, pool: str, day: date) -> int | None:
    stmt = select(C.id).where(C.pool == pool, C.day == day, C.slot == "", C.bucket == "")
    if conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    got = (await conn.execute(stmt)).scalar()
    return None if got is None else int(got)


async def reserve(
    conn: AsyncConnection, cap_pools: Sequence[str], day: date, bucket: str, units: int
) -> None:
    """Move ``units`` of each existing cap of ``day`` into ``bucket``; refuses the whole
    change (the caller's transaction) when a cap has not that many free."""
    if units <= 0:
        return
    moved: list[tuple[str, date, str]] = []
    for pool in cap_pools:
        common = await _common(conn, pool, day)
        if common is None:
            continue  # no cap that day
        res = await conn.execute(
            update(INV)
            .where(C.id == common, C.capacity - C.held - C.sold >= units)
            .values(capacity=C.capacity - units)
        )
        if res.rowcount != 1:
            row = (
                await conn.execute(select(C.capacity, C.held, C.sold).where(C.id == common))
            ).one()
            left = max(0, int(row.capacity) - int(row.held) - int(row.sold))
            raise DeniedError.of(
                "NOT_ENOUGH_DAY_CAP",
                f"quantity: the whole-day cap {pool.lstrip('~')} of {day} has {left} "
                f"visitors left, not the {units} this allotment would add",
                errors=[{"field": "quantity", "problem": f"at most {left} more that day"}],
            )
        res = await conn.execute(
            update(INV)
            .where(C.pool == pool, C.day == day, C.slot == "", C.bucket == bucket)
            .values(capacity=C.capacity + units)
        )
        if res.rowcount != 1:
            await conn.execute(
                insert(INV).values(
                    pool=pool, day=day, slot="", bucket=bucket, capacity=units,
                    held=0, sold=0, fallback=False,
                )
            )  # fmt: skip
        moved.append((pool, day, ""))
    await mark_cells(conn, moved)


async def release(
    conn: AsyncConnection, cap_pools: Sequence[str], day: date, bucket: str, units: int
) -> None:
    """Give back up to ``units`` unsold units of ``bucket`` to each cap's common cell
    (fewer where the bucket holds fewer: a cap set after the grant)."""
    if units <= 0:
        return
    moved: list[tuple[str, date, str]] = []
    for pool in cap_pools:
        common = await _common(conn, pool, day)
        if common is None:
            continue
        stmt = select(C.id, C.capacity, C.held, C.sold).where(
            C.pool == pool, C.day == day, C.slot == "", C.bucket == bucket
        )
        if conn.dialect.name == "postgresql":
            stmt = stmt.with_for_update()
        cell = (await conn.execute(stmt)).first()
        if cell is None:
            continue
        n = min(units, int(cell.capacity) - int(cell.held) - int(cell.sold))
        if n <= 0:
            continue
        await conn.execute(update(INV).where(C.id == cell.id).values(capacity=C.capacity - n))
        await conn.execute(update(INV).where(C.id == common).values(capacity=C.capacity + n))
        moved.append((pool, day, ""))
    await mark_cells(conn, moved)

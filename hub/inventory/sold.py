"""Counting a sale that ALREADY HAPPENED somewhere else — a paper ticket written at the
gate during an outage (`hub.redemptions.paper_stock`), an emergency sale a bridge made
offline (`hub.emergency.intake`) — against the slot cells and the whole-day caps.

One loop for both, because both make the same choice: such a sale is never refused for
lack of room (the visitor paid and holds a ticket), so each cell is taken from the first
of its buckets that still has room and, when none has, counted past its capacity on the
bucket named to take the excess and reported ``over`` for staff. One relative update per
cell (``sold = sold + n``) under a row lock on PostgreSQL: safe beside the group-commit
writer (`hub.inventory.ledger`), whose guarded delta sees the change and retries. The
caller records the allocations with its order, so a refund gives every unit back like
any order's; every cell moved is marked for the stock pusher.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.inventory.marks import mark_ids
from hub.storage.tables import InventoryRow

INV = InventoryRow.__table__
C = INV.c


class NoSuchCell(LookupError):
    """A required cell (a slot the venue never opened that day) does not exist."""


@dataclass(frozen=True, slots=True)
class SoldNeed:
    """Units to count in one (pool, slot) of the day.

    ``buckets``: tried in order, the first with room takes them all. ``overflow``: the
    bucket that takes them past its capacity when none has room (the first present when
    it is absent). ``required``: False for a cap, which a day may simply not have."""

    pool: str
    slot: str
    quantity: int
    buckets: tuple[str, ...] = ("",)
    overflow: str | None = None
    required: bool = True


@dataclass(frozen=True, slots=True)
class SoldCell:
    need: SoldNeed
    inventory_id: int
    bucket: str
    over: bool

    @property
    def allocation(self) -> dict[str, int]:
        """The order's allocation row (the caller adds ``order_id``)."""
        return {"inventory_id": self.inventory_id, "quantity": self.need.quantity}


async def lock_cells(conn: AsyncConnection, keys: Iterable[tuple[str, date, str]]) -> None:
    """Lock every cell of these (pool, day, slot) keys at once, in id order, on
    PostgreSQL — the order the group-commit writer (`hub.inventory.ledger`) locks a
    batch's slot and cap cells in — so a writer that touches a slot and then a cap
    cannot deadlock with it. SQLite's write lock already excludes every other writer."""
    wanted = sorted(set(keys))
    if conn.dialect.name != "postgresql" or not wanted:
        return
    await conn.execute(
        select(C.id)
        .where(tuple_(C.pool, C.day, C.slot).in_(wanted))
        .order_by(C.id)
        .with_for_update()
    )


async def count_sold(conn: AsyncConnection, needs: Sequence[SoldNeed], day: date) -> list[SoldCell]:
    """Count each need on ``day``; raises `NoSuchCell` for a missing required cell (the
    caller's transaction then writes nothing). Skipped needs (no cap) are left out."""
    await lock_cells(conn, [(n.pool, day, n.slot) for n in needs])
    out: list[SoldCell] = []
    for need in needs:
        stmt = select(C.id, C.bucket).where(
            C.pool == need.pool,
            C.day == day,
            C.slot == need.slot,
            C.bucket.in_(need.buckets),
        )
        if conn.dialect.name == "postgresql":
            stmt = stmt.order_by(C.id).with_for_update()
        cells = {r.bucket: int(r.id) for r in (await conn.execute(stmt)).all()}
        present = [b for b in need.buckets if b in cells]
        if not present:
            if need.required:
                raise NoSuchCell(
                    f"pool {need.pool} has no slot {need.slot or '(all day)'} on {day}"
                )
            continue
        taken: SoldCell | None = None
        for bucket in present:
            res = await conn.execute(
                update(INV)
                .where(C.id == cells[bucket], C.capacity - C.held - C.sold >= need.quantity)
                .values(sold=C.sold + need.quantity)
            )
            if res.rowcount == 1:
                taken = SoldCell(need, cells[bucket], bucket, over=False)
                break
        if taken is None:
            over_to = need.overflow
            bucket = over_to if over_to is not None and over_to in cells else present[0]
            await conn.execute(
                update(INV).where(C.id == cells[bucket]).values(sold=C.sold + need.quantity)
            )
            taken = SoldCell(need, cells[bucket], bucket, over=True)
        out.append(taken)
    await mark_ids(conn, [c.inventory_id for c in out])
    return out

"""Stock for a whole batch of orders, under an explicit lock.

The group-commit writer locks every inventory cell its batch touches — ``SELECT … FOR
UPDATE`` in one sorted order on PostgreSQL; on SQLite the ``BEGIN IMMEDIATE`` write lock
already excludes every other writer — then decides each order against those locked counts
in memory, first come first served, and writes one guarded delta per cell. That is the
same guarantee as one conditional update per order (nobody can change the counts between
read and write), at a cost per batch instead of per order.

The whole-day cap (`hub.inventory.daycap`) is one more cell of the batch: loaded and
locked in the same sorted statement as the slots (slot ``""``), taken after the slot's
needs in `take` (all or none), written by the same guarded delta.

``unsafe=True`` reads without the lock and writes absolute values: the naive read-then-
write that loses updates when two processes interleave. It exists only for the control
test that proves the concurrency tests would catch an oversell.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import bindparam, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.inventory.marks import mark_cells
from hub.inventory.stock import Need, Taken
from hub.storage.tables import InventoryRow

INV = InventoryRow.__table__
C = INV.c

Cell = tuple[str, date, str, str]  # pool, day, slot, bucket
UNSAFE_WINDOW_SECONDS = 0.005


_GUARDED_DELTA = (
    update(INV)
    .where(C.id == bindparam("p_id"), C.held == bindparam("p_held"), C.sold == bindparam("p_sold"))
    .values(held=C.held + bindparam("p_dh"), sold=C.sold + bindparam("p_ds"))
)


_LOAD = (
    select(C.id, C.pool, C.day, C.slot, C.bucket, C.capacity, C.held, C.sold)
    .where(tuple_(C.pool, C.day, C.slot).in_(bindparam("p_keys", expanding=True)))
    .order_by(C.id)
)
_LOAD_FOR_UPDATE = _LOAD.with_for_update()


def _delta_params(c: _Count) -> dict[str, int]:
    return {"p_id": c.id, "p_held": c.held, "p_sold": c.sold, "p_dh": c.d_held, "p_ds": c.d_sold}


class LedgerConflict(RuntimeError):
    """A guarded write found counts other than those read under lock (a bug or a lock
    that did not hold); the batch is rolled back and retried order by order."""


@dataclass(slots=True)
class _Count:
    id: int
    capacity: int
    held: int
    sold: int
    d_held: int = 0
    d_sold: int = 0

    @property
    def free(self) -> int:
        return self.capacity - self.held - self.sold - self.d_held - self.d_sold


class BatchLedger:
    def __init__(self, *, unsafe: bool = False) -> None:
        self.unsafe = unsafe
        self._cells: dict[Cell, _Count] = {}
        self._by_id: dict[int, _Count] = {}
        self.capped = False
        """The last `take` was refused by a whole-day cap (not by its slot)."""

    async def load(self, conn: AsyncConnection, slots: Iterable[tuple[str, date, str]]) -> None:
        keys = sorted(set(slots))
        if not keys:
            return
        # Built once (module level): a new select per batch cost its construction and
        # cache key every time.
        stmt = _LOAD_FOR_UPDATE if conn.dialect.name == "postgresql" and not self.unsafe else _LOAD
        for r in (await conn.execute(stmt, {"p_keys": keys})).all():
            count = _Count(int(r.id), int(r.capacity), int(r.held), int(r.sold))
            self._cells[(r.pool, r.day, r.slot, r.bucket)] = count
            self._by_id[count.id] = count
        if self.unsafe:
            # Widen the read-to-write window a little, as a slower application would, so
            # the control test sees the lost update reliably even on a loaded machine.
            await asyncio.sleep(UNSAFE_WINDOW_SECONDS)

    def take(
        self,
        needs: Sequence[Need],
        *,
        day: date,
        slot: str,
        buckets: Sequence[str],
        sell: bool,
        caps: Sequence[Need] = (),
    ) -> list[Taken] | None:
        """Every need or none, each from the first bucket that has room; then every cap
        cell of the day that exists (`capped` tells the two refusals apart)."""
        taken: list[Taken] = []
        self.capped = False
        for cap in caps:
            count = self._cells.get((cap.pool, day, "", ""))
            if count is not None and count.free < cap.quantity:
                self.capped = True
                return None
        for need in needs:
            for bucket in buckets:
                count = self._cells.get((need.pool, day, slot, bucket))
                if count is not None and count.free >= need.quantity:
                    if sell:
                        count.d_sold += need.quantity
                    else:
                        count.d_held += need.quantity
                    taken.append(Taken(count.id, need.quantity))
                    break
            else:
                self.give_back(taken, sold=sell)
                return None
        for cap in caps:
            count = self._cells.get((cap.pool, day, "", ""))
            if count is not None:  # room checked above: the caps are not the slots' cells
                if sell:
                    count.d_sold += cap.quantity
                else:
                    count.d_held += cap.quantity
                taken.append(Taken(count.id, cap.quantity))
        return taken

    def cap_left(self, caps: Sequence[Need], day: date) -> int | None:
        """The least free of the day's caps among ``caps`` (None: none is set)."""
        free = [c.free for n in caps if (c := self._cells.get((n.pool, day, "", ""))) is not None]
        return max(0, min(free)) if free else None

    def give_back(self, taken: Iterable[Taken], *, sold: bool) -> None:
        for t in taken:
            count = self._by_id[t.inventory_id]
            if sold:
                count.d_sold -= t.quantity
            else:
                count.d_held -= t.quantity

    def available(self, pool: str, day: date, slot: str, buckets: Sequence[str]) -> int | None:
        """What one order could still get (None: no such slot)."""
        free = [c.free for b in buckets if (c := self._cells.get((pool, day, slot, b))) is not None]
        return max(0, *free) if free else None

    async def flush(self, conn: AsyncConnection) -> None:
        changed = [c for c in self._by_id.values() if c.d_held or c.d_sold]
        if not changed:
            return
        await mark_cells(
            conn, [(k[0], k[1], k[2]) for k, c in self._cells.items() if c.d_held or c.d_sold]
        )
        if self.unsafe:
            await conn.execute(
                update(INV)
                .where(C.id == bindparam("p_id"))
                .values(held=bindparam("p_held"), sold=bindparam("p_sold")),
                [
                    {"p_id": c.id, "p_held": c.held + c.d_held, "p_sold": c.sold + c.d_sold}
                    for c in changed
                ],
            )
            return
        # Guarded deltas: a no-op unless someone changed the counts behind our lock.
        # One executemany for all the cells where the driver sums the rows it changed
        # (SQLite): a batch spread over 50 slots was 50 statements, each awaited in turn.
        if conn.dialect.supports_sane_multi_rowcount and len(changed) > 1:
            res = await conn.execute(_GUARDED_DELTA, [_delta_params(c) for c in changed])
            if res.rowcount != len(changed):
                raise LedgerConflict(
                    f"{len(changed) - res.rowcount} of {len(changed)} inventory cells "
                    "changed under lock"
                )
            return
        for c in changed:
            res = await conn.execute(_GUARDED_DELTA, _delta_params(c))
            if res.rowcount != 1:
                raise LedgerConflict(f"inventory cell {c.id} changed under lock")

"""Atomic stock moves inside the caller's transaction.

Every reservation is ONE conditional update — ``held = held + q WHERE capacity - held -
sold >= q`` — so two orders racing for the last place cannot both win, whichever hub
process they reach, on SQLite (one writer) and on PostgreSQL (the row lock makes the
second update re-check the condition after the first commits). A combo takes each
component in turn and gives back what it took if one fails, inside the same
transaction: all or none.

`unsafe=True` replaces the conditional update with a read-then-write. It exists only so
the concurrency tests can prove they would catch an oversell (the control test).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, bindparam, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.storage.tables import InventoryRow

INV = InventoryRow.__table__
C = INV.c


@dataclass(frozen=True, slots=True)
class Need:
    """Units wanted from one pool on one day and slot."""

    pool: str
    quantity: int


@dataclass(frozen=True, slots=True)
class Taken:
    inventory_id: int
    quantity: int


def _take_stmt(column: str):  # type: ignore[no-untyped-def]
    col = C[column]
    return (
        update(INV)
        .where(
            C.pool == bindparam("p_pool"),
            C.day == bindparam("p_day"),
            C.slot == bindparam("p_slot"),
            C.bucket == bindparam("p_bucket"),
            C.capacity - C.held - C.sold >= bindparam("p_q"),
        )
        .values({column: col + bindparam("p_q")})
        .returning(C.id)
    )


_TAKE_HELD = _take_stmt("held")
_TAKE_SOLD = _take_stmt("sold")


class Stock:
    def __init__(self, *, unsafe: bool = False) -> None:
        self.unsafe = unsafe

    async def take(
        self,
        conn: AsyncConnection,
        needs: Sequence[Need],
        *,
        day: date,
        slot: str,
        buckets: Sequence[str],
        sell: bool,
    ) -> list[Taken] | None:
        """Take every need or nothing. `buckets` are tried in order for each need (the
        channel's allotment first, then the common pool when the allotment falls back).
        `sell=True` books straight to sold (paid at once) instead of held."""
        taken: list[Taken] = []
        for need in needs:
            got = None
            for bucket in buckets:
                got = await self._take_one(conn, need, day, slot, bucket, sell)
                if got is not None:
                    break
            if got is None:
                await self.give_back(conn, taken, sold=sell)
                return None
            taken.append(Taken(got, need.quantity))
        return taken

    async def _take_one(
        self, conn: AsyncConnection, need: Need, day: date, slot: str, bucket: str, sell: bool
    ) -> int | None:
        params = {"p_pool": need.pool, "p_day": day, "p_slot": slot, "p_bucket": bucket}
        if self.unsafe:
            return await self._take_unsafe(conn, need, params, sell)
        res = await conn.execute(
            _TAKE_SOLD if sell else _TAKE_HELD, {**params, "p_q": need.quantity}
        )
        return res.scalar()

    async def _take_unsafe(
        self, conn: AsyncConnection, need: Need, params: dict[str, object], sell: bool
    ) -> int | None:
        row = (
            await conn.execute(
                select(C.id, C.capacity, C.held, C.sold).where(
                    C.pool == params["p_pool"],
                    C.day == params["p_day"],
                    C.slot == params["p_slot"],
                    C.bucket == params["p_bucket"],
                )
            )
        ).first()
        if row is None or row.capacity - row.held - row.sold < need.quantity:
            return None
        column = "sold" if sell else "held"
        current = row.sold if sell else row.held
        await conn.execute(
            update(INV).where(C.id == row.id).values({column: current + need.quantity})
        )
        return int(row.id)

    async def give_back(self, conn: AsyncConnection, taken: Iterable[Taken], *, sold: bool) -> None:
        """Return units (release a hold, or put refunded/cancelled units back on sale)."""
        col = C.sold if sold else C.held
        rows = [{"p_id": t.inventory_id, "p_q": t.quantity} for t in taken]
        if rows:
            await conn.execute(
                update(INV)
                .where(C.id == bindparam("p_id"))
                .values({col.key: col - bindparam("p_q")}),
                rows,
            )

    async def settle(self, conn: AsyncConnection, taken: Iterable[Taken]) -> None:
        """A held reservation was paid: move it from held to sold."""
        rows = [{"p_id": t.inventory_id, "p_q": t.quantity} for t in taken]
        if rows:
            await conn.execute(
                update(INV)
                .where(C.id == bindparam("p_id"))
                .values(held=C.held - bindparam("p_q"), sold=C.sold + bindparam("p_q")),
                rows,
            )

    @staticmethod
    async def lock_cells(conn: AsyncConnection, cells: Iterable[tuple[str, date, str]]) -> None:
        """PostgreSQL: lock the rows a batch will touch, in one sorted order, so two
        batches in two processes can never deadlock on each other's rows."""
        keys = sorted(set(cells))
        if not keys or conn.dialect.name != "postgresql":
            return
        await conn.execute(
            select(C.id)
            .where(tuple_(C.pool, C.day, C.slot).in_(keys))
            .order_by(C.id)
            .with_for_update()
        )

    @staticmethod
    async def available(
        conn: AsyncConnection, pool: str, day: date, slot: str, buckets: Sequence[str]
    ) -> int | None:
        """Remaining units in the buckets a channel may use (None: no such slot)."""
        rows = (
            (
                await conn.execute(
                    select(C.capacity - C.held - C.sold).where(
                        and_(C.pool == pool, C.day == day, C.slot == slot, C.bucket.in_(buckets))
                    )
                )
            )
            .scalars()
            .all()
        )
        return sum(max(0, int(r)) for r in rows) if rows else None

"""Stock moves inside the caller's transaction.

Taking stock happens in `hub.inventory.ledger` (a batch of orders under one lock);
here are the moves of one existing order, which only ever return or settle what that
order itself holds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import bindparam, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.inventory.marks import mark_ids
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


class Stock:
    """Stock moves of single orders after intake (confirm, cancel, refund, expiry): each
    a relative update of the order's own allocations, safe under any concurrency."""

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
            await mark_ids(conn, (t.inventory_id for t in taken))

    async def settle(self, conn: AsyncConnection, taken: Iterable[Taken]) -> None:
        """A held reservation was paid: move it from held to sold (what is left to sell
        does not change, so no stock-dirty mark)."""
        rows = [{"p_id": t.inventory_id, "p_q": t.quantity} for t in taken]
        if rows:
            await conn.execute(
                update(INV)
                .where(C.id == bindparam("p_id"))
                .values(held=C.held - bindparam("p_q"), sold=C.sold + bindparam("p_q")),
                rows,
            )

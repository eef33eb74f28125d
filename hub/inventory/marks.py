"""Stock-dirty marks: every move of sellable stock appends one row per (pool, day, slot)
to ``stock_push`` in the SAME transaction, so the stock pusher (`hub.stockpush`) hears
of a change if and only if it is committed, whatever moved it (a sale in any channel, a
hold, its expiry, a cancel, a refund, a capacity or allotment edit).

Append-only on purpose: the group-commit writer already holds its cells' locks, and an
upsert of a shared "dirty" row would add a second lock order (and PostgreSQL deadlocks)
to the hottest transaction. The pusher deletes what it drained.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.storage.stock_tables import StockDirtyRow
from hub.storage.tables import InventoryRow

DIRTY = StockDirtyRow.__table__
INV = InventoryRow.__table__
_INSERT_DIRTY = insert(DIRTY)  # built once: the writer runs it every batch


async def mark_cells(conn: AsyncConnection, cells: Iterable[tuple[str, date, str]]) -> None:
    """Mark each (pool, day, slot) changed; one multi-row INSERT."""
    now = datetime.now(UTC)  # informative only (lag gauges): ordering uses versions
    rows = [
        {"pool": pool, "day": day, "slot": slot, "changed_at": now}
        for pool, day, slot in sorted(set(cells))
    ]
    if rows:
        await conn.execute(_INSERT_DIRTY, rows)


async def mark_ids(conn: AsyncConnection, inventory_ids: Iterable[int]) -> None:
    """Mark the (pool, day, slot) of inventory cells known by id."""
    ids = sorted(set(inventory_ids))
    if not ids:
        return
    rows = (
        await conn.execute(select(INV.c.pool, INV.c.day, INV.c.slot).where(INV.c.id.in_(ids)))
    ).all()
    await mark_cells(conn, [(r.pool, r.day, r.slot) for r in rows])

"""The batch ledger's write: one guarded delta per inventory cell — in ONE executemany
where the driver reports the rows it changed (SQLite), one statement per cell otherwise
(PostgreSQL) — and a cell whose counts moved behind the lock fails the whole batch."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hub.inventory.ledger import INV, BatchLedger, LedgerConflict
from hub.inventory.stock import Need
from hub.storage.db import create_all, create_engine

DAY = date(2026, 12, 24)
SLOTS = [f"{h:02d}:00-{h + 1:02d}:00" for h in range(8, 14)]


async def _engine(db_url: str) -> AsyncEngine:
    engine = create_engine(db_url, pool_size=2)
    await create_all(engine)
    async with engine.begin() as conn:
        await conn.execute(
            insert(INV),
            [
                {
                    "pool": "main",
                    "day": DAY,
                    "slot": s,
                    "bucket": "",
                    "start": s[:5],
                    "end": s[6:],
                    "capacity": 5,
                    "held": 0,
                    "sold": 0,
                    "fallback": True,
                }
                for s in SLOTS
            ],
        )
    return engine


async def _take_everywhere(conn: AsyncConnection, ledger: BatchLedger) -> None:
    await ledger.load(conn, [("main", DAY, s) for s in SLOTS])
    for i, s in enumerate(SLOTS):
        taken = ledger.take([Need("main", 1 + i % 2)], day=DAY, slot=s, buckets=[""], sell=True)
        assert taken is not None


async def test_every_cells_delta_is_written(db_url: str) -> None:
    engine = await _engine(db_url)
    try:
        async with engine.begin() as conn:
            await _take_everywhere(conn, BatchLedger())
            await BatchLedger().flush(conn)  # nothing taken: nothing written
        async with engine.begin() as conn:
            ledger = BatchLedger()
            await _take_everywhere(conn, ledger)
            await ledger.flush(conn)
        async with engine.connect() as conn:
            sold = dict((await conn.execute(select(INV.c.slot, INV.c.sold))).all())
        assert sold == {s: 1 + i % 2 for i, s in enumerate(SLOTS)}
    finally:
        await engine.dispose()


async def test_a_cell_changed_behind_the_lock_fails_the_batch(db_url: str) -> None:
    engine = await _engine(db_url)
    try:
        with pytest.raises(LedgerConflict):
            async with engine.begin() as conn:
                ledger = BatchLedger()
                await _take_everywhere(conn, ledger)
                # what a broken lock would let happen: another writer sold one unit
                await conn.execute(
                    update(INV).where(INV.c.slot == SLOTS[3]).values(sold=INV.c.sold + 1)
                )
                await ledger.flush(conn)
        async with engine.connect() as conn:  # rolled back as a whole
            sold = set((await conn.execute(select(INV.c.sold))).scalars())
        assert sold == {0}
    finally:
        await engine.dispose()

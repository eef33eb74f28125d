"""A visitor replaced on a roster revokes one ticket and issues another: no refund. Only a
chain whose last ticket is revoked was refunded, at the time of that last revocation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.orders.records import ORD, TIX
from hub.reconcile.report import day_report
from hub.storage import migrate
from hub.storage.db import create_engine
from hub.storage.tables import VenueRow

DAY = date(2026, 11, 23)
MORNING = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 10:00 in Asia/Shanghai


def ticket(tid: str, order: str, idx: int | None, revoked: datetime | None) -> dict[str, Any]:
    return {
        "id": tid,
        "order_id": order,
        "product_id": "tour",
        "venue_id": "v1",
        "visitor_index": idx,
        "valid_from": MORNING,
        "valid_until": MORNING + timedelta(days=1),
        "state": "revoked" if revoked else "valid",
        "revoked_at": revoked,
        "change_seq": 0,
    }


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    await migrate.upgrade(db_url)
    eng = create_engine(db_url)
    yield eng
    await eng.dispose()


async def test_replacements_are_not_refunds(engine: AsyncEngine) -> None:
    later = MORNING + timedelta(hours=2)
    async with engine.begin() as conn:
        await conn.execute(
            insert(VenueRow.__table__), [{"id": "v1", "name": "V", "timezone": "Asia/Shanghai"}]
        )
        await conn.execute(
            insert(ORD),
            [
                {
                    "id": "g1",
                    "channel": "agency",
                    "partner_order_id": "G-1",
                    "venue_id": "v1",
                    "state": "confirmed",
                    "travel_date": DAY,
                    "slot": "",
                    "amount": 18000,
                    "lines": [{"product_id": "tour", "quantity": 3, "unit_price": 6000}],
                    "contact": {},
                    "extra": {},
                    "created_at": MORNING - timedelta(days=1),
                    "updated_at": MORNING,
                    "confirmed_at": MORNING - timedelta(days=1),
                }
            ],
        )
        await conn.execute(
            insert(TIX),
            [
                ticket("t0", "g1", 0, MORNING),  # visitor 0 replaced by t0b …
                ticket("t0b", "g1", 0, None),  # … who keeps the place
                ticket("t1", "g1", 1, MORNING),  # visitor 1 replaced by t1b …
                ticket("t1b", "g1", 1, later),  # … who was then refunded
                ticket("t2", "g1", 2, None),  # visitor 2 untouched
            ],
        )
    async with engine.connect() as conn:
        report = await day_report(conn, DAY)
    [row] = report.rows
    assert (row.channel, row.refunded, row.refunds) == ("agency", 1, 6000)
    assert (row.orders, row.not_shown) == (0, 2)  # sold the day before; two places left

"""With history in the database, the queries whose cost must stay flat — intake's
lookups, the bridge change feed, the day report — read through indexes on both
databases (issue 17, item 6).

SQLite: every step of ``EXPLAIN QUERY PLAN`` on a big table is a SEARCH (a SCAN reads
the table or a whole index). PostgreSQL: with ``enable_seqscan`` off the planner takes
any usable index, so a ``Seq Scan`` on a big table means there is none — steady on a
small history, where the planner would otherwise rightly prefer a scan."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Select, insert, select, text

from hub.bench.history import load_history
from hub.orders.records import ORD
from hub.reconcile import report
from hub.redemptions import feed
from hub.storage.db import create_engine
from hub.storage.tables import IdempotencyRow, VenueRow

BIG = ("orders", "ticket", "redemption", "idempotency")
HISTORY = 3000
IDEM = IdempotencyRow.__table__


def _queries() -> dict[str, Select[Any]]:
    day = datetime.now(UTC).date() - timedelta(days=3)
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    end = start + timedelta(days=1)
    return {
        "idempotency": select(IDEM).where(IDEM.c.key == "boxoffice:hist:7"),
        "partner_order": select(ORD).where(
            ORD.c.channel == "boxoffice", ORD.c.partner_order_id == "hist-7"
        ),
        "feed_start": feed.changes_query("v", 0, "", 501),
        "feed_middle": feed.changes_query("v", HISTORY // 2, f"T{HISTORY // 2 - 1:011d}", 501),
        "report_sales": report.sales_query("v", start, end),
        "report_refunds": report.revoked_query("v", start, end),
        "report_visits": report.visits_query("v", day),
    }


async def _plans(url: str) -> dict[str, str]:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(insert(VenueRow.__table__).values(id="v", name="V"))
        await load_history(url, HISTORY, "v", "p")
        pg = engine.dialect.name == "postgresql"
        out = {}
        async with engine.connect() as conn:
            if pg:
                await conn.execute(text("SET enable_seqscan = off"))
            for name, q in _queries().items():
                sql = str(q.compile(engine.sync_engine, compile_kwargs={"literal_binds": True}))
                explain = "EXPLAIN " if pg else "EXPLAIN QUERY PLAN "
                rows = (await conn.execute(text(explain + sql))).all()
                out[name] = "\n".join(str(r[-1]) for r in rows)
        return out
    finally:
        await engine.dispose()


async def test_history_queries_use_indexes(db_url: str) -> None:
    plans = await _plans(db_url)
    pg = db_url.startswith("postgresql")
    for name, plan in plans.items():
        for table in BIG:
            if pg:
                assert not re.search(rf"Seq Scan on {table}\b", plan), f"{name}:\n{plan}"
            else:
                scans = re.findall(rf"^\s*SCAN {table}\b.*$", plan, re.M)
                assert not scans, f"{name}:\n{plan}"
    # the feed reads a range from its cursor, not the venue's every ticket from the start
    for name in ("feed_start", "feed_middle"):
        if pg:
            assert re.search(r"Index Cond: .*change_seq >=", plans[name]), plans[name]
        else:
            assert "ix_ticket_change_id (venue_id=? AND change_seq>?)" in plans[name]


async def test_history_rows_look_like_the_hubs(db_url: str) -> None:
    """The preloaded rows read back through the hub's own queries: the day report
    counts their sales and the feed pages through their tickets in cursor order."""
    engine = create_engine(db_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(insert(VenueRow.__table__).values(id="v", name="V"))
        got = await load_history(db_url, 730, "v", "p")
        assert (got.orders, got.tickets) == (730, 730)
        day = datetime.now(UTC).date() - timedelta(days=1)
        async with engine.connect() as conn:
            rep = await report.day_report(conn, day, "v")
            rows = (await conn.execute(feed.changes_query("v", 5, "T00000000004", 3))).all()
        sold = sum(r.tickets_sold for r in rep.rows)
        assert sold == 2  # orders 0 and 365 travel (and paid) yesterday
        assert [r.change_seq for r in rows] == [6, 7, 8]
    finally:
        await engine.dispose()

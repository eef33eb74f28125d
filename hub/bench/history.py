"""``bench orders --history N``: N past orders (with their tickets, redemptions and
idempotency records) bulk-loaded before the measured run.

The point is to measure intake, the bridge change feed and the day report on a database
that looks a year old, so the rows are made by the database itself — one
``INSERT … SELECT`` per table over ``generate_series`` (PostgreSQL) or a recursive
counter (SQLite), in one transaction — not through the hub's API (hours for 1,000,000)
nor built row by row in Python (minutes). The values are what the hub would store:
aware UTC timestamps on PostgreSQL, SQLAlchemy's text form of UTC on SQLite.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

DAYS = 365  # history spread over the year before the run
REFUND_EVERY = 20  # one order in 20 refunded (its ticket revoked)
ENTERED_EVERY = 2  # one ticket in 2 used at the gate (one redemption row)


@dataclass(frozen=True, slots=True)
class HistoryResult:
    orders: int
    tickets: int
    redemptions: int
    seconds: float


TABLES = ("orders", "ticket", "idempotency", "redemption")


def _sql(dialect: str) -> dict[str, str]:
    """One INSERT … SELECT per table over the counter ``i`` (0 .. :n - 1), dialect
    spelled; :venue and :product are bound."""
    if dialect == "sqlite":
        series = "WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i + 1 < :n) "
        day = f"date('now', '-' || (1 + i % {DAYS}) || ' days')"

        def at(hours: int) -> str:
            return (
                f"strftime('%Y-%m-%d %H:%M:%S', {day}, '+{1 + hours} hours', "
                "'+' || (i % 36000) || ' seconds') || '.000000'"
            )

        fmt = "printf('{}%0{}d', i)"
        src = "FROM s"
        true, false = "1", "0"
    else:
        series = ""
        day = f"(current_date - (1 + i % {DAYS}))"

        def at(hours: int) -> str:
            return (
                f"(({day})::timestamp + interval '{1 + hours} hours' "
                "+ (i % 36000) * interval '1 second') AT TIME ZONE 'UTC'"
            )

        fmt = "'{}' || lpad(i::text, {}, '0')"
        src = "FROM generate_series(0, :n - 1) AS s(i)"
        true, false = "true", "false"
    oid, tid, rid = fmt.format("H", 10), fmt.format("T", 11), fmt.format("R", 11)
    refunded = f"i % {REFUND_EVERY} = 0"
    entered = f"i % {REFUND_EVERY} <> 0 AND i % {ENTERED_EVERY} = 0"
    lines = '\'[{"product_id": "\' || :product || \'", "quantity": 1, "unit_price": 8000}]\''
    if dialect != "sqlite":
        lines = f"({lines})::json"
    js = "'{}'" if dialect == "sqlite" else "'{}'::json"
    sql = {
        "orders": "INSERT INTO orders (id, channel, partner_order_id, venue_id, state, "
        "travel_date, slot, amount, currency, lines, contact, extra, created_at, updated_at, "
        f"hold_expires_at, confirmed_at) SELECT {oid}, 'boxoffice', 'hist-' || i, :venue, "
        f"CASE WHEN {refunded} THEN 'refunded' WHEN {entered} THEN 'redeemed' "
        f"ELSE 'confirmed' END, {day}, '10:00-11:00', 8000, 'CNY', {lines}, {js}, {js}, "
        f"{at(0)}, {at(0)}, NULL, {at(0)} {src}",
        "ticket": "INSERT INTO ticket (id, order_id, product_id, venue_id, "
        "visitor_index, holder_id_sealed, holder_id_hash, valid_from, valid_until, "
        "entries_allowed, entries_used, units, state, credential, revoked_at, change_seq) "
        f"SELECT {tid}, {oid}, :product, :venue, NULL, NULL, NULL, {at(0)}, {at(24)}, 1, "
        f"CASE WHEN {entered} THEN 1 ELSE 0 END, 1, CASE WHEN {refunded} THEN 'revoked' "
        f"WHEN {entered} THEN 'used' ELSE 'valid' END, '', "
        f"CASE WHEN {refunded} THEN {at(1)} END, i + 1 {src}",
        "idempotency": "INSERT INTO idempotency (key, fingerprint, status, response, "
        f"order_id, created_at) SELECT 'boxoffice:hist:' || i, '0', 201, {js}, {oid}, "
        f"{at(0)} {src}",
        "redemption": "INSERT INTO redemption (id, ticket_id, venue_id, gate, device, "
        "medium, direction, at, accepted, code, kind, bridge, offline, device_at, received_at, "
        "counted, conflict, staff, note) "
        f"SELECT {rid}, {tid}, :venue, 'g1', 'd1', 'qr', 'in', {at(2)}, {true}, 'OK', 'scan', "
        f"'b1', {false}, {at(2)}, {at(2)}, {true}, '', '', '' {src} WHERE {entered}",
    }
    # SQLite's WITH goes after the column list, so the driver sees an INSERT (rowcount)
    return {t: q.replace(") SELECT ", ") " + series + "SELECT ", 1) for t, q in sql.items()}


async def load_history(url: str, n: int, venue: str, product: str) -> HistoryResult:
    """Insert ``n`` past orders of ``venue`` (one ticket each, with idempotency records
    and, for half of them, a gate entry) into the database at ``url`` (at schema head,
    venue already there), move the venue's change counter past the history's sequence
    numbers and refresh the planner's statistics."""
    from sqlalchemy import text

    from hub.storage.db import create_admin_engine

    t0 = time.perf_counter()
    engine = create_admin_engine(url)
    dialect = engine.dialect.name
    counts: dict[str, int] = {}
    try:
        async with engine.begin() as conn:
            for table, sql in _sql(dialect).items():
                if n:
                    got = await conn.execute(
                        text(sql), {"n": n, "venue": venue, "product": product}
                    )
                    counts[table] = got.rowcount
            greatest = "max" if dialect == "sqlite" else "greatest"
            await conn.execute(
                text(
                    "INSERT INTO venue_change (venue_id, seq) VALUES (:venue, :n) "
                    "ON CONFLICT (venue_id) DO UPDATE SET "
                    f"seq = {greatest}(venue_change.seq, excluded.seq)"
                ),
                {"venue": venue, "n": n},
            )
        async with engine.connect() as conn:
            if dialect != "sqlite":
                conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("ANALYZE"))
            await conn.commit()
    finally:
        await engine.dispose()
    return HistoryResult(
        counts.get("orders", 0),
        counts.get("ticket", 0),
        counts.get("redemption", 0),
        time.perf_counter() - t0,
    )

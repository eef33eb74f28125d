"""Per-ID limits across ALL channels, enforced atomically.

The rule engine says "this ID may have at most L units that day"; only the database can
see the other channels' orders. Each claim is one conditional upsert on a counter keyed
by a keyed hash of the ID number (the number itself is not stored here), so two channels
selling to the same person at the same moment cannot both pass the limit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.domain.rules import Claim
from hub.storage.sealed import id_hash
from hub.storage.tables import IdDayCountRow

CNT = IdDayCountRow.__table__
C = CNT.c


# The keyed hash of an ID number: the same one order_visitor.id_hash and
# ticket.holder_id_hash store, so a counter and the rows of one person share a key.
id_key = id_hash


def _insert(conn: AsyncConnection) -> Any:
    return (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(CNT)


async def lock_counters(conn: AsyncConnection, keys: Iterable[tuple[str, str, date]]) -> None:
    """PostgreSQL: touch every counter a batch will use in sorted order first, so two
    batches in two processes cannot deadlock on each other's counters."""
    rows = sorted(set(keys))
    if not rows or conn.dialect.name != "postgresql":
        return
    stmt = _insert(conn).on_conflict_do_update(
        index_elements=["scope", "id_key", "day"], set_={"count": C.count}
    )
    await conn.execute(stmt, [{"scope": s, "id_key": k, "day": d, "count": 0} for s, k, d in rows])


async def apply(conn: AsyncConnection, claims: Sequence[Claim], secret: str) -> Claim | None:
    """Add every claim or none; returns the claim that hit its limit."""
    done: list[tuple[Claim, str]] = []
    for claim in claims:
        key = id_key(secret, claim.id_number)
        ins = _insert(conn).values(scope=claim.scope, id_key=key, day=claim.day, count=claim.amount)
        stmt = ins.on_conflict_do_update(
            index_elements=["scope", "id_key", "day"],
            set_={"count": C.count + ins.excluded.count},
            where=(C.count + ins.excluded.count) <= claim.limit,
        ).returning(C.count)
        if claim.amount > claim.limit or (await conn.execute(stmt)).first() is None:
            await release(conn, [(c.scope, k, c.day, c.amount) for c, k in done])
            return claim
        done.append((claim, key))
    return None


async def release(conn: AsyncConnection, counts: Sequence[tuple[str, str, date, int]]) -> None:
    """Give counted units back (cancel, refund, expiry). Arguments are stored claim keys."""
    if not counts:
        return
    await conn.execute(
        update(CNT)
        .where(C.scope == bindparam("p_s"), C.id_key == bindparam("p_k"), C.day == bindparam("p_d"))
        .values(count=C.count - bindparam("p_n")),
        [{"p_s": s, "p_k": k, "p_d": d, "p_n": n} for s, k, d, n in counts],
    )


def stored(claims: Sequence[Claim], secret: str) -> list[list[Any]]:
    """Claims as kept on the order (hashed keys), so they can be released later — and,
    with their limit, taken again when a late payment revives an expired order."""
    return [
        [c.scope, id_key(secret, c.id_number), c.day.isoformat(), c.amount, c.limit] for c in claims
    ]


def from_stored(rows: Iterable[Sequence[Any]]) -> list[tuple[str, str, date, int]]:
    # Rows written before the limit was kept have four fields; both shapes release alike.
    return [(s, k, date.fromisoformat(d), int(n)) for s, k, d, n, *_ in rows]


async def reclaim(conn: AsyncConnection, rows: Sequence[Sequence[Any]]) -> bool:
    """Take stored claims again, each within its limit, all or none (an expired order
    revived by a late payment: someone else may have used the ID's place meanwhile).
    A row without its limit (kept before limits were stored) cannot be checked: False."""
    done: list[tuple[str, str, date, int]] = []
    for row in rows:
        if len(row) < 5:
            await release(conn, done)
            return False
        scope, key, day, amount, limit = row[0], row[1], date.fromisoformat(row[2]), *row[3:5]
        ins = _insert(conn).values(scope=scope, id_key=key, day=day, count=int(amount))
        stmt = ins.on_conflict_do_update(
            index_elements=["scope", "id_key", "day"],
            set_={"count": C.count + ins.excluded.count},
            where=(C.count + ins.excluded.count) <= int(limit),
        ).returning(C.count)
        if int(amount) > int(limit) or (await conn.execute(stmt)).first() is None:
            await release(conn, done)
            return False
        done.append((scope, key, day, int(amount)))
    return True

"""Account moves inside the caller's transaction.

A charge is one conditional update — ``balance = balance - amount WHERE status = 'active'
AND balance - amount >= -credit_limit`` — in the transaction that also takes the order's
stock, so an agency can never get tickets without paying, pay without tickets, or go past
its credit when two bookings race for the last of it. The database's CHECK constraint is
the second line of defence.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.domain import Denial, DenialCode
from hub.storage.tables import AccountEntryRow, AccountRow

ACC = AccountRow.__table__
ENT = AccountEntryRow.__table__
A = ACC.c


async def lock(conn: AsyncConnection, account_ids: Iterable[str]) -> None:
    """PostgreSQL: lock a batch's accounts in one sorted order (no deadlocks between
    batches of different processes)."""
    ids = sorted(set(account_ids))
    if ids and conn.dialect.name == "postgresql":
        await conn.execute(select(A.id).where(A.id.in_(ids)).order_by(A.id).with_for_update())


async def charge(
    conn: AsyncConnection, account_id: str, amount: int, *, order_id: str, now: datetime
) -> Denial | None:
    """Take `amount` fen, or explain why not (nothing written then)."""
    res = await conn.execute(
        update(ACC)
        .where(
            A.id == account_id,
            A.status == "active",
            A.balance - amount >= -A.credit_limit,
        )
        .values(balance=A.balance - amount, updated_at=now)
        .returning(A.balance)
    )
    after = res.scalar()
    if after is None:
        return await _why_not(conn, account_id, amount)
    await _entry(conn, account_id, "charge", -amount, int(after), order_id, now)
    return None


async def credit(
    conn: AsyncConnection,
    account_id: str,
    amount: int,
    *,
    kind: str,
    now: datetime,
    order_id: str | None = None,
    key: str | None = None,
    note: str = "",
) -> int:
    """Give `amount` fen back (refund, top-up, adjustment); returns the new balance."""
    res = await conn.execute(
        update(ACC)
        .where(A.id == account_id)
        .values(balance=A.balance + amount, updated_at=now)
        .returning(A.balance)
    )
    after = res.scalar()
    if after is None:
        raise LookupError(f"no account {account_id}")
    await _entry(conn, account_id, kind, amount, int(after), order_id, now, key=key, note=note)
    return int(after)


async def _entry(
    conn: AsyncConnection,
    account_id: str,
    kind: str,
    amount: int,
    balance_after: int,
    order_id: str | None,
    now: datetime,
    *,
    key: str | None = None,
    note: str = "",
) -> None:
    await conn.execute(
        insert(ENT).values(
            account_id=account_id,
            kind=kind,
            amount=amount,
            balance_after=balance_after,
            order_id=order_id,
            key=key,
            note=note,
            at=now,
        )
    )


async def _why_not(conn: AsyncConnection, account_id: str, amount: int) -> Denial:
    row = (
        await conn.execute(select(A.status, A.balance, A.credit_limit).where(A.id == account_id))
    ).first()
    if row is None:
        return Denial(DenialCode.UNKNOWN_ACCOUNT, f"No account {account_id}")
    if row.status != "active":
        return Denial(DenialCode.ACCOUNT_SUSPENDED, "Account suspended")
    available = int(row.balance) + int(row.credit_limit)
    return Denial(
        DenialCode.INSUFFICIENT_FUNDS,
        f"Needs {amount / 100:.2f}, {available / 100:.2f} available",
        {"needed": amount, "available": available},
    )

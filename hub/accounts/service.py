"""Opening and managing B2B accounts, and reading their ledger (statements).

Channel plugins (travel agencies, contract units) own their accounts' meaning; the hub
owns the money arithmetic so that it can be atomic with the stock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.accounts import store
from hub.clock import Clock
from hub.domain.errors import DeniedError
from hub.storage.db import reader
from hub.storage.tables import AccountEntryRow, AccountRow

A = AccountRow.__table__.c
E = AccountEntryRow.__table__.c
KINDS = ("prepaid", "credit")
STATUSES = ("active", "suspended")


@dataclass(frozen=True, slots=True)
class Account:
    id: str
    owner: str
    kind: str
    balance: int
    credit_limit: int
    status: str

    @property
    def available(self) -> int:
        return self.balance + self.credit_limit

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "owner": self.owner,
            "kind": self.kind,
            "balance": self.balance,
            "credit_limit": self.credit_limit,
            "available": self.available,
            "status": self.status,
        }


@dataclass(frozen=True, slots=True)
class AccountEntry:
    id: int
    kind: str
    amount: int
    balance_after: int
    order_id: str | None
    note: str
    at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "amount": self.amount,
            "balance_after": self.balance_after,
            "order_id": self.order_id,
            "note": self.note,
            "at": self.at.isoformat(),
        }


class AccountService:
    def __init__(self, engine: AsyncEngine, clock: Clock) -> None:
        self.engine = engine
        self.reads = reader(engine)
        self.clock = clock

    async def open(
        self, account_id: str, *, owner: str, kind: str, credit_limit: int = 0
    ) -> Account:
        """Create the account, or change its kind and limit (never its balance)."""
        if kind not in KINDS:
            raise DeniedError.of("INVALID_REQUEST", f"kind must be one of {KINDS}")
        limit = credit_limit if kind == "credit" else 0
        if limit < 0:
            raise DeniedError.of("INVALID_REQUEST", "credit_limit must be >= 0")
        now = self.clock.now()
        async with self.engine.begin() as conn:
            dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
            ins = dialect.insert(AccountRow.__table__).values(
                id=account_id,
                owner=owner,
                kind=kind,
                balance=0,
                credit_limit=limit,
                status="active",
                created_at=now,
                updated_at=now,
            )
            await conn.execute(ins.on_conflict_do_nothing(index_elements=["id"]))
            res = await conn.execute(
                update(AccountRow.__table__)
                .where(A.id == account_id, A.balance + limit >= 0)
                .values(kind=kind, credit_limit=limit, updated_at=now)
            )
            if res.rowcount != 1:
                raise DeniedError.of(
                    "CREDIT_BELOW_USED", "The account already uses more credit than that"
                )
        found = await self.get(account_id)
        assert found is not None
        return found

    async def set_status(self, account_id: str, status: str) -> Account:
        if status not in STATUSES:
            raise DeniedError.of("INVALID_REQUEST", f"status must be one of {STATUSES}")
        async with self.engine.begin() as conn:
            res = await conn.execute(
                update(AccountRow.__table__)
                .where(A.id == account_id)
                .values(status=status, updated_at=self.clock.now())
            )
        if res.rowcount != 1:
            raise DeniedError.of("UNKNOWN_ACCOUNT", f"No account {account_id}")
        found = await self.get(account_id)
        assert found is not None
        return found

    async def top_up(self, account_id: str, amount: int, *, key: str, note: str = "") -> Account:
        """Add money to a prepaid balance (or repay credit); idempotent on `key`."""
        if amount <= 0:
            raise DeniedError.of("INVALID_REQUEST", "amount must be positive")
        async with self.engine.begin() as conn:
            seen = (await conn.execute(select(E.id).where(E.key == key))).first()
            if seen is None:
                try:
                    await store.credit(
                        conn,
                        account_id,
                        amount,
                        kind="top_up",
                        now=self.clock.now(),
                        key=key,
                        note=note,
                    )
                except LookupError as exc:
                    raise DeniedError.of("UNKNOWN_ACCOUNT", str(exc)) from exc
        found = await self.get(account_id)
        assert found is not None
        return found

    async def get(self, account_id: str) -> Account | None:
        async with self.reads.connect() as conn:
            row = (
                await conn.execute(select(AccountRow.__table__).where(A.id == account_id))
            ).first()
        if row is None:
            return None
        return Account(row.id, row.owner, row.kind, row.balance, row.credit_limit, row.status)

    async def entries(
        self, account_id: str, since: datetime | None = None, until: datetime | None = None
    ) -> list[AccountEntry]:
        stmt = select(AccountEntryRow.__table__).where(E.account_id == account_id)
        if since is not None:
            stmt = stmt.where(E.at >= since)
        if until is not None:
            stmt = stmt.where(E.at < until)
        async with self.reads.connect() as conn:
            rows = (await conn.execute(stmt.order_by(E.id))).all()
        return [
            AccountEntry(r.id, r.kind, r.amount, r.balance_after, r.order_id, r.note, r.at)
            for r in rows
        ]

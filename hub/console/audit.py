"""The audit log of staff actions: who, what, when, from where, before → after.

Write it with `record` inside the transaction that makes the change, so an action and its
audit line are committed together or not at all::

    async with hub.engine.begin() as conn:
        before = ...
        await conn.execute(...)  # the change
        await record(conn, now, actor=staff.username, action="order.refund",
                     target=f"order:{order_id}", before=before, after=after, remote=ip)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hub.storage.staff_tables import StaffAuditRow

AUDIT = StaffAuditRow.__table__


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    target: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    remote: str


async def record(
    conn: AsyncConnection,
    at: datetime,
    *,
    actor: str,
    action: str,
    target: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    remote: str = "",
) -> None:
    """Append one line to the audit log (in the caller's transaction)."""
    await conn.execute(
        AUDIT.insert().values(
            at=at,
            actor=actor[:64],
            action=action[:64],
            target=target[:200],
            before=before,
            after=after,
            remote=remote[:64],
        )
    )


async def recent(
    engine: AsyncEngine, *, limit: int = 200, before_id: int | None = None
) -> list[AuditEntry]:
    """The newest entries first; ``before_id`` pages back."""
    q = select(AUDIT).order_by(AUDIT.c.id.desc()).limit(limit)
    if before_id is not None:
        q = q.where(AUDIT.c.id < before_id)
    async with engine.connect() as conn:
        rows = (await conn.execute(q)).mappings().all()
    return [
        AuditEntry(
            r["id"],
            r["at"],
            r["actor"],
            r["action"],
            r["target"],
            r["before"],
            r["after"],
            r["remote"],
        )
        for r in rows
    ]

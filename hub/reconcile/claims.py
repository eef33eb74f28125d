"""Claim a scheduled job's day once across every hub process.

A claim is one ``INSERT … ON CONFLICT (job, day) DO NOTHING RETURNING id`` in its own
transaction: on PostgreSQL and on SQLite alike exactly one process gets the id, the
others get nothing and move on — no lock held while the job runs, and a process that
dies mid-run leaves a ``running`` row staff can see (`release` frees a day for a retry).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.storage.tables import JobClaimRow

CLAIM = JobClaimRow.__table__
C = CLAIM.c


async def claim(engine: AsyncEngine, job: str, day: date, *, by: str, now: datetime) -> int | None:
    """The claim's id when this caller won (job, day), None when another one has it."""
    async with engine.begin() as conn:
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        stmt = (
            dialect.insert(CLAIM)
            .values(job=job, day=day, claimed_by=by[:100], claimed_at=now, outcome="running")
            .on_conflict_do_nothing(index_elements=["job", "day"])
            .returning(C.id)
        )
        won = (await conn.execute(stmt)).scalar()
    return int(won) if won is not None else None


async def finish(
    engine: AsyncEngine, claim_id: int, outcome: str, detail: str, *, now: datetime
) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            update(CLAIM)
            .where(C.id == claim_id)
            .values(outcome=outcome, detail=detail[:500], finished_at=now)
        )


async def release(engine: AsyncEngine, claim_id: int) -> None:
    """Give the day back (the statement is not there yet): the next round claims it again."""
    async with engine.begin() as conn:
        await conn.execute(delete(CLAIM).where(C.id == claim_id))


async def listing(engine: AsyncEngine, job: str | None = None) -> list[dict[str, object]]:
    stmt = select(CLAIM).order_by(C.day.desc(), C.job)
    if job:
        stmt = stmt.where(C.job == job)
    async with engine.connect() as conn:
        return [dict(r._mapping) for r in await conn.execute(stmt)]

"""The outbox table's statements: enqueue inside the caller's transaction, claim with a
lease, guarded state changes, and the operator's listing and replay.

Life of a row::

    pending ──claim──► inflight ──mark_done──► done
       ▲                  │  └────mark_dead──► dead ──retry_dead──► pending
       └───mark_retry─────┘
    inflight whose lease ran out is claimable again (its worker crashed or hung)

``attempts`` counts delivery attempts that finished (the successful one included); an
attempt cut short by a crash is not counted, and neither is a call the worker handed
back without trying (breaker open, shutting down).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hub.contracts import PartnerCall
from hub.outbox import counts
from hub.outbox.policy import RetryPolicy, policy_of
from hub.storage.tables import OutboxRow

T = OutboxRow.__table__  # Core on the hot path: a few statements, no ORM unit of work
C = T.c

PENDING, INFLIGHT, DONE, DEAD = "pending", "inflight", "done", "dead"
STATES = (PENDING, INFLIGHT, DONE, DEAD)
_ERROR_MAX = 2000  # the column's length
_CLAIMED = (C.id, C.partner, C.kind, C.dedupe_key, C.payload, C.order_id, C.attempts)
_CLAIMED += (C.deadline_at, C.next_attempt_at)


@dataclass(frozen=True, slots=True)
class ClaimedCall:
    """A call this worker holds the lease on, with what it needs to decide the outcome."""

    id: int
    call: PartnerCall
    attempts: int
    deadline_at: datetime | None
    lease_until: datetime

    @property
    def partner(self) -> str:
        return self.call.partner

    @property
    def kind(self) -> str:
        return self.call.kind


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """One row as operators see it (listing, CLI, admin API)."""

    id: int
    partner: str
    kind: str
    dedupe_key: str
    order_id: str | None
    state: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    deadline_at: datetime | None
    lease_until: datetime | None
    claimed_by: str | None
    delivered_at: datetime | None
    last_error: str | None
    payload: Mapping[str, Any]


# Explicit columns, so a column added to the table later does not break the listing.
_ENTRY_COLUMNS = [C[f.name] for f in fields(OutboxEntry)]


def _clip(error: str) -> str:
    return error if len(error) <= _ERROR_MAX else error[: _ERROR_MAX - 1] + "…"


def _guard(call_id: int, worker_id: str) -> ColumnElement[bool]:
    """Only the current lease holder may settle a call: a worker whose lease expired
    and was taken over must not overwrite the new owner's outcome."""
    return and_(C.id == call_id, C.claimed_by == worker_id, C.state == INFLIGHT)


def _due(now: datetime) -> ColumnElement[bool]:
    return or_(
        and_(C.state == PENDING, C.next_attempt_at <= now),
        and_(C.state == INFLIGHT, C.lease_until < now),
    )


class OutboxStore:
    """Namespace of the outbox statements. `enqueue` runs on the caller's connection
    (part of the order's transaction); the rest are engine-level, one short transaction
    each, because they are the workers' and operators' own units of work."""

    # -- hot path -------------------------------------------------------------------------
    @staticmethod
    async def enqueue(
        conn: AsyncConnection,
        calls: Sequence[PartnerCall],
        *,
        now: datetime,
        policy_for: Callable[[str], RetryPolicy],
    ) -> int:
        """Queue ``calls`` in the caller's transaction; returns how many were new.

        A call whose ``dedupe_key`` is already queued (in any state) is skipped, so a
        replayed order event never queues its callback twice. One INSERT … ON CONFLICT
        DO NOTHING RETURNING for the whole list (SQLAlchemy batches it as multi-row
        VALUES), because this sits on the order-intake path.
        """
        if not calls:
            return 0
        rows = [
            {
                "partner": call.partner,
                "kind": call.kind,
                "dedupe_key": call.dedupe_key,
                "payload": dict(call.payload),
                "order_id": call.order_id,
                "state": PENDING,
                "attempts": 0,
                "created_at": now,
                "next_attempt_at": call.not_before or now,
                "deadline_at": now
                + timedelta(
                    seconds=policy_of(policy_for, call.partner, call.kind).deadline_seconds
                ),
            }
            for call in calls
        ]
        insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
        stmt = insert(T).on_conflict_do_nothing(index_elements=[C.dedupe_key])
        result = await conn.execute(stmt.returning(C.id, C.partner), rows)
        created = result.all()
        await counts.apply(conn, counts.moves_of(((r.partner, None) for r in created), PENDING))
        return len(created)

    # -- workers --------------------------------------------------------------------------
    @staticmethod
    async def claim(
        engine: AsyncEngine,
        *,
        worker_id: str,
        limit: int,
        now: datetime,
        lease_seconds: float,
    ) -> list[ClaimedCall]:
        """Take up to ``limit`` due calls (pending and due, or inflight with an expired
        lease) and lease them to ``worker_id`` until ``now + lease_seconds``.

        PostgreSQL: SELECT … FOR UPDATE SKIP LOCKED then UPDATE in one transaction, so
        concurrent workers in any number of processes each get different rows without
        waiting on each other. SQLite: one UPDATE … WHERE id IN (SELECT … LIMIT n)
        RETURNING under BEGIN IMMEDIATE (one writer at a time anyway).
        """
        lease_until = now + timedelta(seconds=lease_seconds)
        claim_values = {"state": INFLIGHT, "claimed_by": worker_id, "lease_until": lease_until}
        due = (
            select(C.id, C.partner, C.state)
            .where(_due(now))
            .order_by(C.next_attempt_at, C.id)
            .limit(limit)
        )
        async with engine.begin() as conn:
            # PostgreSQL skips rows other workers hold; SQLite's BEGIN IMMEDIATE already
            # made this transaction the only writer, so what it reads stays due.
            if conn.dialect.name == "postgresql":
                due = due.with_for_update(skip_locked=True)
            picked = (await conn.execute(due)).all()
            if not picked:
                return []
            stmt = update(T).where(C.id.in_([r.id for r in picked]))
            result = await conn.execute(stmt.values(**claim_values).returning(*_CLAIMED))
            await counts.apply(
                conn, counts.moves_of(((r.partner, r.state) for r in picked), INFLIGHT)
            )
        rows = sorted(result.all(), key=lambda r: (r.next_attempt_at, r.id))
        return [
            ClaimedCall(
                id=r.id,
                call=PartnerCall(
                    partner=r.partner,
                    kind=r.kind,
                    dedupe_key=r.dedupe_key,
                    payload=r.payload,
                    order_id=r.order_id,
                ),
                attempts=r.attempts,
                deadline_at=r.deadline_at,
                lease_until=lease_until,
            )
            for r in rows
        ]

    @staticmethod
    async def mark_done(
        engine: AsyncEngine, call_id: int, *, worker_id: str, now: datetime
    ) -> bool:
        """The partner took the call. False when this worker no longer holds it."""
        values = {
            "state": DONE,
            "attempts": C.attempts + 1,
            "delivered_at": now,
            "lease_until": None,
        }
        return await _settle(engine, call_id, worker_id, values)

    @staticmethod
    async def mark_retry(
        engine: AsyncEngine,
        call_id: int,
        *,
        worker_id: str,
        error: str | None,
        next_at: datetime,
        count_attempt: bool = True,
    ) -> bool:
        """Back to pending until ``next_at``. ``count_attempt=False`` hands a call back
        untried (breaker open, shutdown) without spending its attempt budget; ``error``
        ``None`` then keeps the previous error for the operator."""
        values: dict[str, Any] = {
            "state": PENDING,
            "next_attempt_at": next_at,
            "lease_until": None,
            "claimed_by": None,
        }
        if count_attempt:
            values["attempts"] = C.attempts + 1
        if error is not None:
            values["last_error"] = _clip(error)
        return await _settle(engine, call_id, worker_id, values)

    @staticmethod
    async def mark_dead(
        engine: AsyncEngine,
        call_id: int,
        *,
        worker_id: str,
        error: str,
        count_attempt: bool = True,
    ) -> bool:
        """Dead-letter: a person decides (see `retry_dead`). ``count_attempt=False`` when
        no attempt was made (e.g. no adapter for the partner)."""
        values: dict[str, Any] = {"state": DEAD, "lease_until": None, "last_error": _clip(error)}
        if count_attempt:
            values["attempts"] = C.attempts + 1
        return await _settle(engine, call_id, worker_id, values)

    # -- operators ------------------------------------------------------------------------
    @staticmethod
    async def list_calls(
        engine: AsyncEngine,
        *,
        state: str | None = None,
        partner: str | None = None,
        limit: int = 100,
    ) -> list[OutboxEntry]:
        """Rows oldest first, optionally filtered by state and partner."""
        stmt = select(*_ENTRY_COLUMNS).order_by(C.id).limit(limit)
        if state is not None:
            stmt = stmt.where(C.state == state)
        if partner is not None:
            stmt = stmt.where(C.partner == partner)
        async with engine.connect() as conn:
            rows = (await conn.execute(stmt)).mappings().all()
        return [OutboxEntry(**dict(r)) for r in rows]

    @staticmethod
    async def get(engine: AsyncEngine, call_id: int) -> OutboxEntry | None:
        async with engine.connect() as conn:
            stmt = select(*_ENTRY_COLUMNS).where(C.id == call_id)
            row = (await conn.execute(stmt)).mappings().first()
        return OutboxEntry(**dict(row)) if row is not None else None

    @staticmethod
    async def retry_dead(
        engine: AsyncEngine,
        ids: Sequence[int] | None,
        *,
        now: datetime,
        policy_for: Callable[[str], RetryPolicy],
    ) -> int:
        """Replay dead calls (``ids``, or every dead call when ``None``): pending now,
        with a fresh deadline from the partner's policy. ``attempts`` and ``last_error``
        are kept as history; a partner with ``max_attempts`` therefore gets one more try
        per replay. Ids that are not dead are ignored. Returns how many were revived."""
        if ids is not None and not ids:
            return 0
        pick = select(C.id, C.partner, C.kind).where(C.state == DEAD)
        if ids is not None:
            pick = pick.where(C.id.in_(list(ids)))
        revived = 0
        moves = counts.Moves()
        async with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                pick = pick.with_for_update()
            by_partner: dict[tuple[str, str], list[int]] = {}
            for row in (await conn.execute(pick)).all():
                by_partner.setdefault((row.partner, row.kind), []).append(row.id)
            for (partner, kind), partner_ids in by_partner.items():
                policy = policy_of(policy_for, partner, kind)
                deadline = now + timedelta(seconds=policy.deadline_seconds)
                result = await conn.execute(
                    update(T)
                    .where(C.id.in_(partner_ids), C.state == DEAD)
                    .values(
                        state=PENDING,
                        next_attempt_at=now,
                        deadline_at=deadline,
                        lease_until=None,
                        claimed_by=None,
                    )
                )
                revived += result.rowcount
                moves.move(partner, DEAD, PENDING, result.rowcount)
            await counts.apply(conn, moves)
        return revived

    @staticmethod
    async def purge_done(engine: AsyncEngine, *, delivered_before: datetime) -> int:
        """Delete calls delivered before a cut-off; returns how many.

        Done rows only serve as the dedupe memory of their callback, and the events that
        queue callbacks are themselves recorded once (an order moves once, a redemption
        is stored once), so after a retention period they are history, not protection.
        Pending, in-flight and dead calls are never touched."""
        stmt = delete(T).where(C.state == DONE, C.delivered_at < delivered_before)
        async with engine.begin() as conn:
            result = await conn.execute(stmt)
        return int(result.rowcount or 0)

    @staticmethod
    async def stats(engine: AsyncEngine) -> dict[str, dict[str, int]]:
        """partner → state → number of calls, for health pages and the CLI."""
        stmt = select(C.partner, C.state, func.count()).group_by(C.partner, C.state)
        out: dict[str, dict[str, int]] = {}
        async with engine.connect() as conn:
            for partner, state, count in (await conn.execute(stmt)).all():
                out.setdefault(partner, {})[state] = count
        return out


async def _settle(
    engine: AsyncEngine, call_id: int, worker_id: str, values: Mapping[str, Any]
) -> bool:
    async with engine.begin() as conn:
        result = await conn.execute(
            update(T).where(_guard(call_id, worker_id)).values(**values).returning(C.partner)
        )
        settled = result.all()
        moves = counts.moves_of(((r.partner, INFLIGHT) for r in settled), str(values["state"]))
        await counts.apply(conn, moves)
    return len(settled) == 1

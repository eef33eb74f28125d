"""Per-partner circuit breakers.

When a partner is down, hammering it with every queued call wastes the worker's slots
and each call's attempts (and so its deadline budget) on an outage that is not the call's
fault. After ``failure_threshold`` consecutive failures the breaker opens: calls for that
partner go back to the queue untouched until the cooldown ends, then ONE trial call
probes the partner; success closes the breaker, failure opens it for another cooldown.

Breakers live in memory, one set per worker process: they are an optimisation, the
outbox table stays the only source of truth. Given the hub's engine, `Breakers` also
shares when a partner is open with the other hub processes (table ``partner_breaker``):
a process that finds a partner down opens its breaker for every process, which hold the
partner's calls until the cooldown ends; a trial that succeeds closes it for all.
Failures are still counted per process (an optimisation need not be exact), and after
the cooldown each process may send its own one trial.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.clock import Clock
from hub.metrics import OUTBOX_BREAKER
from hub.storage.db import reader
from hub.storage.limit_tables import PartnerBreakerRow

SHARED = PartnerBreakerRow.__table__


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """closed → open after N consecutive failures → half-open after the cooldown (one
    trial) → closed on success / open again on failure."""

    def __init__(
        self,
        partner: str,
        *,
        clock: Clock,
        failure_threshold: int = 5,
        cooldown_seconds: float = 30.0,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be >= 1")
        if cooldown_seconds <= 0:
            raise ValueError("cooldown_seconds must be > 0")
        self.partner = partner
        self.failure_threshold = failure_threshold
        self.cooldown = timedelta(seconds=cooldown_seconds)
        self._clock = clock
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at: datetime | None = None
        self._trial_at: datetime | None = None
        OUTBOX_BREAKER.labels(partner).set(0)

    @property
    def state(self) -> BreakerState:
        return self._state

    @property
    def failures(self) -> int:
        """Consecutive failures counted while closed."""
        return self._failures

    @property
    def reopens_at(self) -> datetime | None:
        """When calls may flow again: the end of the cooldown while open; while a trial
        is out, the moment it is given up on (a trial whose worker vanished must not keep
        the partner blocked forever); ``None`` while closed."""
        if self._state is BreakerState.OPEN and self._opened_at is not None:
            return self._opened_at + self.cooldown
        if self._state is BreakerState.HALF_OPEN and self._trial_at is not None:
            return self._trial_at + self.cooldown
        return None

    def allow(self) -> bool:
        """May a call go to this partner now? In half-open, only the first asker gets
        ``True`` (it carries the trial); the others wait for its outcome."""
        if self._state is BreakerState.CLOSED:
            return True
        reopens_at = self.reopens_at
        if reopens_at is not None and self._clock.now() >= reopens_at:
            self._state = BreakerState.HALF_OPEN
            self._trial_at = self._clock.now()
            return True
        return False

    def record_success(self) -> None:
        """The partner answered: close (or stay closed) and forget past failures."""
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = None
        self._trial_at = None
        OUTBOX_BREAKER.labels(self.partner).set(0)

    def record_failure(self) -> None:
        """The partner did not answer usefully: count it, opening at the threshold; a
        failed trial reopens at once. Late failures of calls that were already under way
        when the breaker opened do not extend the cooldown."""
        if self._state is BreakerState.OPEN:
            return
        if self._state is BreakerState.CLOSED:
            self._failures += 1
            if self._failures < self.failure_threshold:
                return
        self._open()

    def adopt_open(self, until: datetime) -> None:
        """Another process opened this partner's breaker until ``until``: hold calls as
        if this one had (unless it is already open or carrying a trial)."""
        if self._state is BreakerState.CLOSED and self._clock.now() < until:
            self._open(at=until - self.cooldown)

    def _open(self, at: datetime | None = None) -> None:
        self._state = BreakerState.OPEN
        self._opened_at = at or self._clock.now()
        self._trial_at = None
        self._failures = 0
        OUTBOX_BREAKER.labels(self.partner).set(1)


class Breakers:
    """One `CircuitBreaker` per partner, created on first use with shared settings."""

    def __init__(
        self,
        clock: Clock,
        *,
        failure_threshold: int = 5,
        cooldown_seconds: float = 30.0,
        engine: AsyncEngine | None = None,
    ) -> None:
        self._clock = clock
        self.engine = engine
        self._reads = reader(engine) if engine is not None else None
        self.failure_threshold = failure_threshold
        self.cooldown_seconds = cooldown_seconds
        self._by_partner: dict[str, CircuitBreaker] = {}

    def get(self, partner: str) -> CircuitBreaker:
        breaker = self._by_partner.get(partner)
        if breaker is None:
            breaker = CircuitBreaker(
                partner,
                clock=self._clock,
                failure_threshold=self.failure_threshold,
                cooldown_seconds=self.cooldown_seconds,
            )
            self._by_partner[partner] = breaker
        return breaker

    __getitem__ = get

    async def pull(self, partner: str) -> CircuitBreaker:
        """The partner's breaker, opened if another process opened it (no engine: as is)."""
        breaker = self.get(partner)
        if self._reads is not None and breaker.state is BreakerState.CLOSED:
            # a read: DEFERRED on SQLite, so each attempt does not wait for the write
            # lock behind the order writer's commits just to learn the breaker is closed
            async with self._reads.connect() as conn:
                until = (
                    await conn.execute(
                        select(SHARED.c.open_until).where(SHARED.c.partner == partner)
                    )
                ).scalar()
            if until is not None:
                breaker.adopt_open(until)
        return breaker

    async def push(self, breaker: CircuitBreaker, was: BreakerState) -> None:
        """Tell the other processes what changed: opened (until the cooldown's end) or
        closed again by a successful trial. Nothing is written while nothing changed."""
        if self.engine is None or breaker.state is was:
            return
        if breaker.state is BreakerState.OPEN:
            until = breaker.reopens_at
        elif breaker.state is BreakerState.CLOSED:
            until = None
        else:
            return
        dialect = self.engine.dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        stmt = insert(SHARED).values(partner=breaker.partner, open_until=until)
        stmt = stmt.on_conflict_do_update(
            index_elements=[SHARED.c.partner], set_={"open_until": until}
        )
        async with self.engine.begin() as conn:
            await conn.execute(stmt)

    def __iter__(self) -> Iterator[CircuitBreaker]:
        return iter(self._by_partner.values())

    def states(self) -> dict[str, BreakerState]:
        """Partner → state, for health pages."""
        return {p: b.state for p, b in self._by_partner.items()}

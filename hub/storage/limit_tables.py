"""Tables of the limits N hub processes share: one token bucket per key
(`hub.storage.shared_limits.SharedBuckets`), so a partner's rate is the hub's rate, not the rate
times the number of processes behind the load balancer; and when each partner's circuit
breaker is open until (`hub.outbox.breaker.Breakers` with an engine), so a partner one
process found down is left alone by all of them.

A module of its own because `hub.storage.tables` is crowded; `hub.storage.tables`
imports it, so the table is in ``METADATA`` wherever the schema is read."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from hub.storage.tables import _ts


class RateBucketRow(SQLModel, table=True):
    """Tokens left in one bucket as of ``at`` (seconds since the epoch on the hub's
    clock); the refill since ``at`` is computed in the UPDATE that takes a token."""

    __tablename__ = "rate_bucket"

    key: str = Field(primary_key=True, max_length=200)
    tokens: float = 0.0
    at: float = 0.0


class PartnerBreakerRow(SQLModel, table=True):
    """A partner's circuit breaker opened by some hub process: every process holds its
    calls until ``open_until``; a trial that succeeds clears it."""

    __tablename__ = "partner_breaker"

    partner: str = Field(primary_key=True, max_length=32)
    open_until: datetime | None = _ts(nullable=True)

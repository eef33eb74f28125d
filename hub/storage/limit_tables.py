"""Tables of the limits N hub processes share (`hub.ratelimit.SharedBuckets`): one token
bucket per key, so a partner's rate is the hub's rate, not the rate times the number of
processes behind the load balancer.

A module of its own because `hub.storage.tables` is crowded; `hub.storage.tables`
imports it, so the table is in ``METADATA`` wherever the schema is read."""

from __future__ import annotations

from sqlmodel import Field, SQLModel


class RateBucketRow(SQLModel, table=True):
    """Tokens left in one bucket as of ``at`` (seconds since the epoch on the hub's
    clock); the refill since ``at`` is computed in the UPDATE that takes a token."""

    __tablename__ = "rate_bucket"

    key: str = Field(primary_key=True, max_length=200)
    tokens: float = 0.0
    at: float = 0.0

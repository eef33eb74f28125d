"""Rate limits shared by every hub process: `SharedBuckets` keeps token buckets in the
hub's database, so N processes behind a load balancer allow the configured rate, not N
times it — a partner's contract limit is the hub's, whatever the number of processes. It
costs one small UPDATE per limited call, on one row per key (a partner): far below an
order's cost, and only on calls that have a limit. (The per-process buckets are
`hub.ratelimit.TokenBuckets`.)"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from aiohttp import web
from sqlalchemy import case, insert, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hub.storage.limit_tables import RateBucketRow

BUCKET = RateBucketRow.__table__


class SharedBuckets:
    """`TokenBuckets` held in the database: one row per key, the refill and the take
    done by ONE conditional UPDATE, so concurrent processes (PostgreSQL's row lock;
    SQLite's single writer) never spend the same token twice.

    ``timer`` is the clock in seconds (the hub's clock, so tests move it); the processes'
    clocks are assumed to agree to well under a token's interval (NTP), and a clock
    that is behind the stored ``at`` refills nothing rather than a negative amount."""

    def __init__(self, engine: AsyncEngine, timer: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.timer = timer

    async def allow(self, key: str, rate: float, burst: int) -> bool:
        """Take one token for ``key`` if there is one; never waits for a token."""
        now = self.timer()
        async with self.engine.begin() as conn:
            if (await conn.execute(_take(key, rate, burst, now))).first() is not None:
                return True
            if (await conn.execute(BUCKET.select().where(BUCKET.c.key == key))).first() is not None:
                return False  # the bucket exists and is empty
        try:  # the key's first call: a full bucket, less this call's token
            async with self.engine.begin() as conn:
                await conn.execute(insert(BUCKET).values(key=key, tokens=burst - 1.0, at=now))
            return burst >= 1
        except IntegrityError:  # another process created it first: take from theirs
            return await self.allow(key, rate, burst)

    async def allow_in(self, conn: AsyncConnection, key: str, rate: float, burst: int) -> bool:
        """`allow` inside the caller's transaction: a caller that writes anyway (the stock
        pusher's queueing) takes its token without a write transaction of its own — on
        SQLite each one waits for the write lock behind the order writer's commits. The
        token is spent only if that transaction commits."""
        now = self.timer()
        if (await conn.execute(_take(key, rate, burst, now))).first() is not None:
            return True
        mod = postgresql if conn.dialect.name == "postgresql" else sqlite
        created = await conn.execute(
            mod.insert(BUCKET)
            .values(key=key, tokens=burst - 1.0, at=now)
            .on_conflict_do_nothing(index_elements=[BUCKET.c.key])
        )
        if created.rowcount == 1:
            return burst >= 1
        return (await conn.execute(_take(key, rate, burst, now))).first() is not None


def _take(key: str, rate: float, burst: int, now: float) -> Any:
    """The refill and the take of one token, as ONE conditional UPDATE (module doc)."""
    c = BUCKET.c
    elapsed = case((c.at < now, now - c.at), else_=0.0)
    refilled = c.tokens + elapsed * rate
    level = case((refilled > float(burst), float(burst)), else_=refilled)
    return (
        update(BUCKET)
        .where(c.key == key, level >= 1.0)
        .values(tokens=level - 1.0, at=case((c.at < now, now), else_=c.at))
        .returning(c.tokens)
    )


SHARED_LIMITS = web.AppKey("shared_limits", SharedBuckets)
"""The running hub's `SharedBuckets` (set by `hub.api.app` once its engine is open)."""

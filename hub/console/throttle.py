"""Login throttling: after ``max_failures`` wrong passwords within ``window``, a key is
refused for ``block`` — per account (``user:<name>``, against guessing one password from
many addresses) and per client address (``addr:<ip>``, against one address trying many
accounts).

Counts live in the database (`hub.storage.staff_tables.StaffThrottleRow`), so all hub
processes sharing it count together, and time comes from the injected clock, so tests
move it instead of waiting.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hub.clock import Clock
from hub.storage.staff_tables import StaffThrottleRow

THROTTLE = StaffThrottleRow.__table__


def account_key(username: str) -> str:
    return f"user:{username[:190]}"


def address_key(remote: str) -> str:
    return f"addr:{remote[:190]}"


class LoginThrottle:
    def __init__(
        self,
        engine: AsyncEngine,
        clock: Clock,
        *,
        max_failures: int = 5,
        window: timedelta = timedelta(minutes=15),
        block: timedelta = timedelta(minutes=15),
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.max_failures = max_failures
        self.window = window
        self.block = block

    async def blocked_until(self, *keys: str) -> datetime | None:
        """The latest time any of ``keys`` is refused until, if that is still ahead."""
        now = self.clock.now()
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(THROTTLE.c.blocked_until).where(THROTTLE.c.key.in_(keys))
            )
            until = [u for (u,) in rows if u is not None and u > now]
        return max(until) if until else None

    async def failed(self, *keys: str) -> datetime | None:
        """Count one failure against each key; the time they are now refused until, if
        this failure crossed the limit."""
        now = self.clock.now()
        latest: datetime | None = None
        async with self.engine.begin() as conn:
            for key in sorted(keys):  # one lock order for every process
                until = await self._fail(conn, key, now)
                if until is not None and (latest is None or until > latest):
                    latest = until
        return latest

    async def _fail(self, conn: AsyncConnection, key: str, now: datetime) -> datetime | None:
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        await conn.execute(
            dialect.insert(THROTTLE)
            .values(key=key, failures=0, window_started_at=now, blocked_until=None)
            .on_conflict_do_nothing(index_elements=["key"])
        )
        q = select(THROTTLE).where(THROTTLE.c.key == key)
        if conn.dialect.name == "postgresql":
            q = q.with_for_update()
        row = (await conn.execute(q)).mappings().one()
        failures, started = row["failures"], row["window_started_at"]
        if now - started > self.window:
            failures, started = 0, now
        failures += 1
        until = now + self.block if failures >= self.max_failures else None
        if until is not None:
            failures, started = 0, now  # a new window starts after the block
        await conn.execute(
            THROTTLE.update()
            .where(THROTTLE.c.key == key)
            .values(
                failures=failures,
                window_started_at=started,
                blocked_until=until if until is not None else row["blocked_until"],
            )
        )
        return until

    async def succeeded(self, *keys: str) -> None:
        """Forget the failures of ``keys`` (the account, after a right password)."""
        async with self.engine.begin() as conn:
            await conn.execute(THROTTLE.delete().where(THROTTLE.c.key.in_(keys)))

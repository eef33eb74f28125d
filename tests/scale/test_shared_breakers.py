"""A partner one hub process found down is left alone by every process (issue 17,
item 7): the breaker's open state goes through the database (``partner_breaker``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hub.clock import FixedClock
from hub.outbox.breaker import Breakers, BreakerState
from hub.storage.db import create_engine

T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


async def test_a_breaker_opened_in_one_process_holds_calls_in_the_other(db_url: str) -> None:
    clock = FixedClock(T0)
    engines = [create_engine(db_url), create_engine(db_url)]
    try:
        a, b = (
            Breakers(clock, failure_threshold=2, cooldown_seconds=30, engine=e) for e in engines
        )
        assert (await b.pull("ctrip")).allow()  # nothing known yet: calls flow
        breaker = await a.pull("ctrip")
        for _ in range(2):  # process A finds the partner down
            before = breaker.state
            breaker.record_failure()
            await a.push(breaker, before)
        assert breaker.state is BreakerState.OPEN
        other = await b.pull("ctrip")
        assert other.state is BreakerState.OPEN and not other.allow()  # B holds its calls too
        assert other.reopens_at == T0 + timedelta(seconds=30)
        assert (await b.pull("meituan")).allow()  # another partner is not affected

        clock.advance(seconds=31)
        before = other.state
        assert other.allow() and other.state is BreakerState.HALF_OPEN  # B's one trial
        other.record_success()
        await b.push(other, before)
        # the partner is back: a third process starting now sends at once
        c = Breakers(clock, failure_threshold=2, engine=engines[0])
        assert (await c.pull("ctrip")).allow()
    finally:
        for e in engines:
            await e.dispose()


async def test_without_an_engine_breakers_stay_in_the_process() -> None:
    clock = FixedClock(T0)
    a, b = Breakers(clock, failure_threshold=1), Breakers(clock, failure_threshold=1)
    breaker = await a.pull("ctrip")
    breaker.record_failure()
    await a.push(breaker, BreakerState.CLOSED)
    assert breaker.state is BreakerState.OPEN and (await b.pull("ctrip")).allow()

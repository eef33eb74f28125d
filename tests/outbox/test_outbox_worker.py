"""The worker against a real partner HTTP server, on SQLite and PostgreSQL.

Backoff runs on a FixedClock the tests advance; only the per-attempt timeout is real
(a fraction of a second), so nothing here waits for a retry schedule.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import aiohttp
import pytest
from outbox_kit import FAST, T0, HttpPartner, PartnerServer, call, enqueue, make_worker, rows
from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.clock import FixedClock
from hub.contracts import ChannelContext, PartnerCall
from hub.outbox import Breakers, BreakerState, OutboxStore, RetryPolicy
from tests.support import BACKGROUND_BOUND


def _metric(name: str, partner: str) -> float:
    return REGISTRY.get_sample_value(name, {"partner": partner}) or 0.0


async def test_lands_exactly_once_after_503s_and_a_timeout(
    engine: AsyncEngine,
    partner: PartnerServer,
    http: aiohttp.ClientSession,
    clock: FixedClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    adapter = HttpPartner("acme", http, partner.url)
    worker = make_worker(engine, clock, {"acme": adapter})
    partner.plan("k1", "503", "503", "hang", "ok")
    await enqueue(engine, [call("k1"), call("k2")], T0)
    delivered_before = _metric("tickethub_outbox_delivered_total", "acme")

    expected_waits = [FAST.next_delay(n) for n in (1, 2, 3)]
    assert expected_waits == [1, 2, 4]
    with caplog.at_level(logging.WARNING, logger="hub.outbox"):
        assert await worker.run_once() == 2  # k2 lands, k1 gets a 503
        for attempt, wait in enumerate(expected_waits, start=1):
            k1 = (await rows(engine))["k1"]
            assert (k1.state, k1.attempts) == ("pending", attempt)
            assert k1.next_attempt_at == clock.now() + timedelta(seconds=wait)
            assert await worker.run_once() == 0  # not due yet
            clock.advance(seconds=wait)
            assert await worker.run_once() == 1

    found = await rows(engine)
    assert (found["k1"].state, found["k1"].attempts) == ("done", 4)
    assert (found["k2"].state, found["k2"].attempts) == ("done", 1)
    assert found["k1"].delivered_at == clock.now()
    assert partner.landed == {"k1": 1, "k2": 1}
    assert partner.hits["k1"] == 4
    assert "timed out" in (found["k1"].last_error or "")  # the last failure, kept
    assert _metric("tickethub_outbox_delivered_total", "acme") - delivered_before == 2
    clock.advance(days=1)
    assert await worker.run_once() == 0
    # failures are logged with ids, never with the payload's personal data
    failures = [r.getMessage() for r in caplog.records if "failed" in r.getMessage()]
    assert len(failures) == 3
    assert all("partner=acme" in m and "attempt=" in m for m in failures)
    assert "timeout" in failures[2]
    assert not any("110101199003071234" in r.getMessage() for r in caplog.records)


async def test_deadline_dead_letters_the_call(
    engine: AsyncEngine, partner: PartnerServer, http: aiohttp.ClientSession, clock: FixedClock
) -> None:
    policy = FAST.model_copy(update={"deadline_seconds": 5})  # waits 1, 2, 4 → third is late
    adapter = HttpPartner("acme", http, partner.url, retry_policy=policy)
    worker = make_worker(engine, clock, {"acme": adapter})
    partner.default = "503"
    dead_before = _metric("tickethub_outbox_dead_total", "acme")
    await enqueue(engine, [call("k")], T0, policy)

    for wait in (1, 2):
        assert await worker.run_once() == 1
        clock.advance(seconds=wait)
    assert await worker.run_once() == 1  # at T0+3, fails; T0+3+4 > deadline T0+5
    entry = (await rows(engine))["k"]
    assert (entry.state, entry.attempts) == ("dead", 3)
    assert "deadline" in (entry.last_error or "")
    assert _metric("tickethub_outbox_dead_total", "acme") - dead_before == 1
    clock.advance(days=1)
    assert await worker.run_once() == 0
    assert partner.landed == {}


async def test_max_attempts_dead_letters_the_call(
    engine: AsyncEngine, partner: PartnerServer, http: aiohttp.ClientSession, clock: FixedClock
) -> None:
    policy = FAST.model_copy(update={"max_attempts": 2})
    worker = make_worker(
        engine, clock, {"acme": HttpPartner("acme", http, partner.url, retry_policy=policy)}
    )
    partner.default = "503"
    await enqueue(engine, [call("k")], T0, policy)
    await worker.run_once()
    clock.advance(seconds=1)
    await worker.run_once()
    entry = (await rows(engine))["k"]
    assert (entry.state, entry.attempts) == ("dead", 2)
    assert "gave up after 2 attempts" in (entry.last_error or "")


async def test_refused_call_is_dead_at_once_and_retry_dead_lands_it(
    engine: AsyncEngine, partner: PartnerServer, http: aiohttp.ClientSession, clock: FixedClock
) -> None:
    worker = make_worker(engine, clock, {"acme": HttpPartner("acme", http, partner.url)})
    partner.plan("k", "400")
    await enqueue(engine, [call("k")], T0)
    assert await worker.run_once() == 1
    entry = (await rows(engine))["k"]
    assert (entry.state, entry.attempts) == ("dead", 1)
    assert "partner answered 400" in (entry.last_error or "")
    assert worker.breakers.get("acme").state is BreakerState.CLOSED  # it did answer

    clock.advance(hours=2)
    assert await worker.run_once() == 0  # dead calls stay dead
    # the operator fixed the data on the partner's side and replays
    revived = await OutboxStore.retry_dead(
        engine, None, now=clock.now(), policy_for=lambda _p: FAST
    )
    assert revived == 1
    assert await worker.run_once() == 1
    entry = (await rows(engine))["k"]
    assert (entry.state, entry.attempts) == ("done", 2)
    assert partner.landed == {"k": 1}


async def test_unknown_partner_is_dead_with_a_clear_error(
    engine: AsyncEngine, clock: FixedClock
) -> None:
    worker = make_worker(engine, clock, {})
    await enqueue(engine, [call("k", partner="ghost")], T0)
    assert await worker.run_once() == 1
    entry = (await rows(engine))["k"]
    assert (entry.state, entry.attempts) == ("dead", 0)
    assert entry.last_error is not None and "no channel adapter for partner 'ghost'" in (
        entry.last_error
    )


class _BuggyOnce:
    """A plugin with a bug on its first call: the worker must survive it."""

    name = "buggy"
    retry_policy = FAST

    def __init__(self) -> None:
        self.calls: list[str] = []

    def setup(self, ctx: ChannelContext) -> None:
        return None

    async def deliver(self, call: PartnerCall) -> None:
        self.calls.append(call.dedupe_key)
        if len(self.calls) == 1:
            raise KeyError("lastConfirmTime")


async def test_a_plugin_bug_is_a_failed_attempt_not_a_dead_worker(
    engine: AsyncEngine, partner: PartnerServer, http: aiohttp.ClientSession, clock: FixedClock
) -> None:
    buggy = _BuggyOnce()
    adapters = {"buggy": buggy, "acme": HttpPartner("acme", http, partner.url)}
    worker = make_worker(engine, clock, adapters, concurrency=1)
    calls = [call("b1", partner="buggy"), call("a1"), call("b2", partner="buggy")]
    await enqueue(engine, calls, T0)
    assert await worker.run_once() == 3
    found = await rows(engine)
    assert (found["b1"].state, found["b1"].attempts) == ("pending", 1)
    assert "KeyError" in (found["b1"].last_error or "")
    assert found["a1"].state == found["b2"].state == "done"
    clock.advance(seconds=1)
    assert await worker.run_once() == 1
    assert (await rows(engine))["b1"].state == "done"
    assert buggy.calls == ["b1", "b2", "b1"]


async def test_breaker_holds_calls_without_spending_attempts_then_half_opens(
    engine: AsyncEngine, partner: PartnerServer, http: aiohttp.ClientSession, clock: FixedClock
) -> None:
    breakers = Breakers(clock, failure_threshold=2, cooldown_seconds=30)
    worker = make_worker(
        engine,
        clock,
        {"acme": HttpPartner("acme", http, partner.url)},
        concurrency=1,  # one call after another: the order below is deterministic
        breakers=breakers,
    )
    partner.default = "503"
    keys = [f"k{i}" for i in range(5)]
    await enqueue(engine, [call(k) for k in keys], T0)

    assert await worker.run_once() == 5
    reopens = T0 + timedelta(seconds=30)
    assert breakers.get("acme").state is BreakerState.OPEN
    assert REGISTRY.get_sample_value("tickethub_outbox_breaker_open", {"partner": "acme"}) == 1
    found = await rows(engine)
    assert [found[k].attempts for k in keys] == [1, 1, 0, 0, 0]
    assert all(found[k].next_attempt_at == reopens for k in keys[2:])
    assert all(found[k].state == "pending" and found[k].last_error is None for k in keys[2:])
    assert sum(partner.hits.values()) == 2

    clock.advance(seconds=2)  # k0, k1 are due again, but the breaker is still open
    assert await worker.run_once() == 2
    found = await rows(engine)
    assert [found[k].attempts for k in keys] == [1, 1, 0, 0, 0]
    assert sum(partner.hits.values()) == 2

    clock.set(reopens)  # half-open: ONE trial, which fails → open again
    assert await worker.run_once() == 5
    assert sum(partner.hits.values()) == 3
    found = await rows(engine)
    assert sum(found[k].attempts for k in keys) == 3
    assert breakers.get("acme").state is BreakerState.OPEN

    partner.default = "ok"  # the partner is back; the next trial closes the breaker
    clock.advance(seconds=30)
    assert await worker.run_once() == 5
    assert breakers.get("acme").state is BreakerState.CLOSED
    found = await rows(engine)
    assert all(found[k].state == "done" for k in keys)
    assert partner.landed == dict.fromkeys(keys, 1)
    assert REGISTRY.get_sample_value("tickethub_outbox_breaker_open", {"partner": "acme"}) == 0


async def test_crashed_workers_call_is_delivered_once_by_another_after_the_lease(
    engine: AsyncEngine, partner: PartnerServer, http: aiohttp.ClientSession, clock: FixedClock
) -> None:
    adapters = {"acme": HttpPartner("acme", http, partner.url)}
    await enqueue(engine, [call("k")], T0)
    # "crashed": claimed the call and died before sending or settling it
    [orphan] = await OutboxStore.claim(
        engine, worker_id="crashed", limit=10, now=T0, lease_seconds=60
    )
    rescuer = make_worker(engine, clock, adapters, worker_id="rescuer", lease_seconds=60)
    assert await rescuer.run_once() == 0  # the lease still holds
    clock.advance(seconds=61)
    assert await rescuer.run_once() == 1
    entry = (await rows(engine))["k"]
    assert (entry.state, entry.attempts, entry.claimed_by) == ("done", 1, "rescuer")
    assert partner.landed == {"k": 1}
    # the crashed worker comes back and reports a failure: ignored
    assert not await OutboxStore.mark_retry(
        engine, orphan.id, worker_id="crashed", error="late", next_at=clock.now()
    )
    assert (await rows(engine))["k"].state == "done"


async def test_background_loop_wakes_on_notify_and_stops_cleanly(
    engine: AsyncEngine, partner: PartnerServer, http: aiohttp.ClientSession, clock: FixedClock
) -> None:
    # A poll far longer than the test: only notify() can make it see the new calls.
    worker = make_worker(
        engine, clock, {"acme": HttpPartner("acme", http, partner.url)}, poll_seconds=3600
    )
    await worker.start()
    try:
        await asyncio.sleep(0.05)  # let the loop go idle on an empty table
        await enqueue(engine, [call(f"k{i}") for i in range(5)], T0)
        worker.notify()
        await asyncio.wait_for(_until_landed(partner, 5), BACKGROUND_BOUND)  # a hang guard
    finally:
        await worker.stop()
    assert not worker.running
    assert all(e.state == "done" for e in (await rows(engine)).values())


async def test_stop_cancels_a_hanging_attempt_and_its_lease_brings_it_back(
    engine: AsyncEngine, partner: PartnerServer, http: aiohttp.ClientSession, clock: FixedClock
) -> None:
    slow = FAST.model_copy(update={"timeout_seconds": 30})
    adapters = {"acme": HttpPartner("acme", http, partner.url, retry_policy=slow)}
    worker = make_worker(engine, clock, adapters, lease_seconds=60)
    partner.plan("k", "hang")
    await enqueue(engine, [call("k")], T0)
    await worker.start()
    await asyncio.wait_for(_until_hit(partner, "k"), BACKGROUND_BOUND)
    await worker.stop(grace_seconds=0.1)  # cancels the attempt stuck on the partner
    assert (await rows(engine))["k"].state == "inflight"

    clock.advance(seconds=61)
    other = make_worker(engine, clock, adapters, worker_id="w2")
    assert await other.run_once() == 1
    entry = (await rows(engine))["k"]
    assert (entry.state, entry.attempts) == ("done", 1)
    assert partner.landed == {"k": 1}


async def test_a_lease_too_short_for_the_attempt_hands_the_call_back(
    engine: AsyncEngine, partner: PartnerServer, http: aiohttp.ClientSession, clock: FixedClock
) -> None:
    """Sending with less lease left than the timeout could let a second worker send too."""
    policy = RetryPolicy(timeout_seconds=5, jitter_seconds=0)
    worker = make_worker(
        engine,
        clock,
        {"acme": HttpPartner("acme", http, partner.url, retry_policy=policy)},
        lease_seconds=2,
    )
    await enqueue(engine, [call("k")], T0)
    assert await worker.run_once() == 1
    entry = (await rows(engine))["k"]
    assert (entry.state, entry.attempts, entry.next_attempt_at) == ("pending", 0, T0)
    assert partner.hits == {}


async def _until_landed(partner: PartnerServer, count: int) -> None:
    while sum(partner.landed.values()) < count:
        await asyncio.sleep(0.01)


async def _until_hit(partner: PartnerServer, key: str) -> None:
    while not partner.hits[key]:
        await asyncio.sleep(0.01)


async def test_calls_held_by_an_open_breaker_are_dead_lettered_at_their_deadline(
    engine: AsyncEngine, partner: PartnerServer, http: aiohttp.ClientSession, clock: FixedClock
) -> None:
    """The partner is down for good and its calls have a 20 s deadline: the breaker's
    30 s cooldown must not keep them pending past it (it used to: 7 of 10 calls were
    still pending after 92 s, handed back untried on every round)."""
    policy = FAST.model_copy(update={"deadline_seconds": 20})
    breakers = Breakers(clock, failure_threshold=3, cooldown_seconds=30)
    worker = make_worker(
        engine,
        clock,
        {"acme": HttpPartner("acme", http, partner.url, retry_policy=policy)},
        concurrency=1,
        breakers=breakers,
    )
    partner.default = "503"
    keys = [f"k{i}" for i in range(10)]
    await enqueue(engine, [call(k) for k in keys], T0, policy)

    deadline = T0 + timedelta(seconds=20)
    while clock.now() <= deadline + timedelta(seconds=1):  # one poll after the deadline
        await worker.run_once()
        clock.advance(seconds=0.5)
    found = await rows(engine)
    assert {k: found[k].state for k in keys} == dict.fromkeys(keys, "dead")
    assert breakers.get("acme").state is BreakerState.OPEN
    # the ones the breaker held were never tried, and say why they are dead
    held = [k for k in keys if found[k].attempts == 0]
    assert held, "the breaker held some calls"
    assert all("deadline" in (found[k].last_error or "") for k in held)
    assert all(found[k].deadline_at == deadline for k in keys)


async def test_no_attempt_starts_after_the_deadline(
    engine: AsyncEngine, partner: PartnerServer, http: aiohttp.ClientSession, clock: FixedClock
) -> None:
    """A call first claimed after its deadline (the hub was down all along) is
    dead-lettered untried: a Ctrip confirmation after lastConfirmTime is no use."""
    policy = FAST.model_copy(update={"deadline_seconds": 20})
    worker = make_worker(
        engine, clock, {"acme": HttpPartner("acme", http, partner.url, retry_policy=policy)}
    )
    await enqueue(engine, [call("late")], T0, policy)
    clock.advance(seconds=21)
    assert await worker.run_once() == 1
    entry = (await rows(engine))["late"]
    assert (entry.state, entry.attempts) == ("dead", 0)
    assert "deadline" in (entry.last_error or "")
    assert partner.hits == {}

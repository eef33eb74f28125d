"""The outbox table's statements, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from outbox_kit import FAST, T0, call, enqueue, rows
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.outbox import OutboxStore, RetryPolicy


class _Rollback(Exception):
    pass


async def test_enqueue_is_idempotent_on_the_dedupe_key(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        first = await OutboxStore.enqueue(
            conn, [call("k1"), call("k2"), call("k1")], now=T0, policy_for=lambda _p: FAST
        )
        again = await OutboxStore.enqueue(
            conn, [call("k2"), call("k3")], now=T0, policy_for=lambda _p: FAST
        )
    assert (first, again) == (2, 1)
    assert await enqueue(engine, [call("k1"), call("k3")], T0) == 0
    assert await enqueue(engine, [], T0) == 0
    found = await rows(engine)
    assert sorted(found) == ["k1", "k2", "k3"]
    k1 = found["k1"]
    assert (k1.state, k1.attempts, k1.partner, k1.kind) == ("pending", 0, "acme", "order_confirmed")
    assert k1.payload["visitor"] == {"id_number": "110101199003071234"}
    assert k1.next_attempt_at == T0
    assert k1.deadline_at == T0 + timedelta(seconds=FAST.deadline_seconds)


async def test_rolled_back_transaction_leaves_nothing(engine: AsyncEngine) -> None:
    with pytest.raises(_Rollback):
        async with engine.begin() as conn:
            added = await OutboxStore.enqueue(
                conn, [call("k1"), call("k2")], now=T0, policy_for=lambda _p: FAST
            )
            assert added == 2
            raise _Rollback  # e.g. the order failed after queuing its callbacks
    assert await rows(engine) == {}
    assert (
        await OutboxStore.claim(
            engine, worker_id="w", limit=10, now=T0 + timedelta(days=1), lease_seconds=10
        )
        == []
    )


async def test_deadline_comes_from_each_partners_policy(engine: AsyncEngine) -> None:
    policies = {"slow": RetryPolicy(deadline_seconds=600), "fast": RetryPolicy(deadline_seconds=5)}
    async with engine.begin() as conn:
        await OutboxStore.enqueue(
            conn,
            [call("a", partner="slow"), call("b", partner="fast")],
            now=T0,
            policy_for=policies.__getitem__,
        )
    found = await rows(engine)
    assert found["a"].deadline_at == T0 + timedelta(seconds=600)
    assert found["b"].deadline_at == T0 + timedelta(seconds=5)


async def test_claim_takes_due_calls_in_order_and_respects_not_before(
    engine: AsyncEngine,
) -> None:
    later = T0 + timedelta(minutes=5)
    await enqueue(engine, [call("late", not_before=later)], T0)
    await enqueue(engine, [call("c1")], T0 - timedelta(seconds=2))
    await enqueue(engine, [call("c2")], T0 - timedelta(seconds=1))
    await enqueue(engine, [call("c3")], T0)

    first = await OutboxStore.claim(engine, worker_id="w1", limit=2, now=T0, lease_seconds=3600)
    assert [c.call.dedupe_key for c in first] == ["c1", "c2"]
    assert all(c.lease_until == T0 + timedelta(seconds=3600) for c in first)
    assert first[0].call.payload["order"] == "c1"
    second = await OutboxStore.claim(engine, worker_id="w2", limit=10, now=T0, lease_seconds=3600)
    assert [c.call.dedupe_key for c in second] == ["c3"]  # "late" is not due yet
    assert (
        await OutboxStore.claim(engine, worker_id="w3", limit=10, now=T0, lease_seconds=3600) == []
    )
    third = await OutboxStore.claim(engine, worker_id="w3", limit=10, now=later, lease_seconds=3600)
    assert [c.call.dedupe_key for c in third] == ["late"]

    found = await rows(engine)
    assert {k: (e.state, e.claimed_by) for k, e in found.items()} == {
        "c1": ("inflight", "w1"),
        "c2": ("inflight", "w1"),
        "c3": ("inflight", "w2"),
        "late": ("inflight", "w3"),
    }


async def test_marks_record_outcomes_and_count_attempts(engine: AsyncEngine) -> None:
    await enqueue(engine, [call("ok"), call("again"), call("held"), call("bad")], T0)
    claimed = {
        c.call.dedupe_key: c.id
        for c in await OutboxStore.claim(engine, worker_id="w", limit=10, now=T0, lease_seconds=30)
    }
    retry_at = T0 + timedelta(seconds=7)
    assert await OutboxStore.mark_done(engine, claimed["ok"], worker_id="w", now=T0)
    assert await OutboxStore.mark_retry(
        engine, claimed["again"], worker_id="w", error="503", next_at=retry_at
    )
    assert await OutboxStore.mark_retry(
        engine, claimed["held"], worker_id="w", error=None, next_at=retry_at, count_attempt=False
    )
    assert await OutboxStore.mark_dead(engine, claimed["bad"], worker_id="w", error="x" * 5000)

    found = await rows(engine)
    assert (found["ok"].state, found["ok"].attempts, found["ok"].delivered_at) == ("done", 1, T0)
    again = found["again"]
    assert (again.state, again.attempts, again.next_attempt_at) == ("pending", 1, retry_at)
    assert (again.last_error, again.claimed_by, again.lease_until) == ("503", None, None)
    held = found["held"]
    assert (held.state, held.attempts, held.last_error) == ("pending", 0, None)
    bad = found["bad"]
    assert (bad.state, bad.attempts) == ("dead", 1)
    assert bad.last_error is not None and len(bad.last_error) == 2000
    # settled calls cannot be settled again
    assert not await OutboxStore.mark_done(engine, claimed["ok"], worker_id="w", now=T0)
    assert not await OutboxStore.mark_dead(engine, claimed["again"], worker_id="w", error="?")


async def test_expired_lease_is_reclaimed_and_the_stale_worker_is_ignored(
    engine: AsyncEngine,
) -> None:
    await enqueue(engine, [call("k")], T0)
    [stale] = await OutboxStore.claim(
        engine, worker_id="crashed", limit=5, now=T0, lease_seconds=10
    )
    # still leased: nobody else gets it
    at_lease_end = T0 + timedelta(seconds=10)
    assert (
        await OutboxStore.claim(engine, worker_id="w2", limit=5, now=at_lease_end, lease_seconds=10)
        == []
    )
    after = at_lease_end + timedelta(seconds=1)
    [taken] = await OutboxStore.claim(engine, worker_id="w2", limit=5, now=after, lease_seconds=10)
    assert taken.id == stale.id and taken.attempts == 0

    # the "crashed" worker wakes up and tries to settle: every guarded mark is a no-op
    assert not await OutboxStore.mark_done(engine, stale.id, worker_id="crashed", now=after)
    assert not await OutboxStore.mark_dead(engine, stale.id, worker_id="crashed", error="late")
    assert not await OutboxStore.mark_retry(
        engine, stale.id, worker_id="crashed", error="late", next_at=after
    )
    entry = await OutboxStore.get(engine, stale.id)
    assert entry is not None
    assert (entry.state, entry.claimed_by, entry.attempts) == ("inflight", "w2", 0)
    assert await OutboxStore.mark_done(engine, taken.id, worker_id="w2", now=after)
    entry = await OutboxStore.get(engine, stale.id)
    assert entry is not None and (entry.state, entry.attempts) == ("done", 1)


async def test_retry_dead_revives_with_attempts_kept_and_a_fresh_deadline(
    engine: AsyncEngine,
) -> None:
    await enqueue(engine, [call("d1"), call("d2"), call("live")], T0)
    claimed = {
        c.call.dedupe_key: c.id
        for c in await OutboxStore.claim(engine, worker_id="w", limit=10, now=T0, lease_seconds=30)
    }
    for key in ("d1", "d2"):
        await OutboxStore.mark_dead(engine, claimed[key], worker_id="w", error="refused")
    later = T0 + timedelta(hours=3)
    policy = RetryPolicy(deadline_seconds=120)

    assert await OutboxStore.retry_dead(engine, [], now=later, policy_for=lambda _p: policy) == 0
    # only dead ids are revived; "live" is inflight and stays so
    revived = await OutboxStore.retry_dead(
        engine, [claimed["d1"], claimed["live"], 9999], now=later, policy_for=lambda _p: policy
    )
    assert revived == 1
    found = await rows(engine)
    d1 = found["d1"]
    assert (d1.state, d1.attempts, d1.last_error) == ("pending", 1, "refused")
    assert d1.next_attempt_at == later
    assert d1.deadline_at == later + timedelta(seconds=120)
    assert found["live"].state == "inflight"
    assert found["d2"].state == "dead"
    assert await OutboxStore.retry_dead(engine, None, now=later, policy_for=lambda _p: policy) == 1
    assert await OutboxStore.retry_dead(engine, None, now=later, policy_for=lambda _p: policy) == 0
    assert (await rows(engine))["d2"].state == "pending"


async def test_listing_and_stats(engine: AsyncEngine) -> None:
    await enqueue(engine, [call("a1", partner="a"), call("a2", partner="a")], T0)
    await enqueue(engine, [call("b1", partner="b")], T0)
    [first, *_] = await OutboxStore.claim(engine, worker_id="w", limit=1, now=T0, lease_seconds=9)
    await OutboxStore.mark_dead(engine, first.id, worker_id="w", error="no")

    assert [e.dedupe_key for e in await OutboxStore.list_calls(engine, state="dead")] == ["a1"]
    assert [e.dedupe_key for e in await OutboxStore.list_calls(engine, partner="a")] == [
        "a1",
        "a2",
    ]
    assert len(await OutboxStore.list_calls(engine, limit=2)) == 2
    assert await OutboxStore.list_calls(engine, state="done") == []
    assert await OutboxStore.stats(engine) == {"a": {"dead": 1, "pending": 1}, "b": {"pending": 1}}
    assert await OutboxStore.get(engine, 424242) is None

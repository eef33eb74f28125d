"""Limits held in the database (`hub.storage.shared_limits.SharedBuckets`): N hub processes on one
database allow the configured rate together, not N times it (issue 17, item 7).

Each "process" here is its own engine (its own connection pool) on the same database,
as two hub processes would be; the clock is injected and moved by hand."""

from __future__ import annotations

import asyncio
import json

from hub.channels import load_all
from hub.channels.adapter import Inbound, Refusal, SpecInbound
from hub.channels.spec import Limits
from hub.storage.db import create_engine
from hub.storage.shared_limits import SharedBuckets
from tests.channels.test_inbound_rate_limit import NOW, call
from tests.channels.test_inbound_schemes import MEITUAN


async def test_two_processes_share_one_bucket(db_url: str) -> None:
    now = [1000.0]
    engines = [create_engine(db_url), create_engine(db_url)]
    try:
        a, b = (SharedBuckets(e, timer=lambda: now[0]) for e in engines)
        # both ask at once, 20 times each: the burst of 5 is the hub's, not each one's
        got = await asyncio.gather(*(x.allow("partner", 1.0, 5) for x in (a, b) * 20))
        assert sum(got) == 5
        now[0] += 3.0  # three tokens back at 1 a second, for both together
        got = [await x.allow("partner", 1.0, 5) for x in (a, b) * 5]
        assert sum(got) == 3
        assert await a.allow("another", 1.0, 1)  # keys are apart
        now[0] += 100.0  # the bucket never holds more than the burst
        got = [await x.allow("partner", 1.0, 5) for x in (b, a) * 5]
        assert sum(got) == 5
    finally:
        for e in engines:
            await e.dispose()


async def test_a_clock_behind_refills_nothing(db_url: str) -> None:
    engine = create_engine(db_url)
    now = [1000.0]
    try:
        limits = SharedBuckets(engine, timer=lambda: now[0])
        assert await limits.allow("k", 1.0, 1)
        now[0] -= 50.0  # another process's clock, behind
        assert not await limits.allow("k", 1.0, 1)
    finally:
        await engine.dispose()


async def test_a_partners_inbound_rate_holds_across_two_processes(db_url: str) -> None:
    """Two hub processes reading the same partner's calls: together they admit the
    spec's burst, and each refuses in the partner's own words once it is spent."""
    spec = load_all()["meituan"]
    spec = spec.model_copy(update={"limits": Limits(rate_per_second=0.001, burst=4)})
    engines = [create_engine(db_url), create_engine(db_url)]
    try:
        procs = [
            (
                SpecInbound(spec, {**MEITUAN, "MEITUAN_PARTNER_ID": "9001"}, clock=lambda: NOW),
                SharedBuckets(e, timer=lambda: 1000.0),
            )
            for e in engines
        ]
        got = [await p.read_shared(call(), limits) for _ in range(5) for p, limits in procs]
        assert sum(isinstance(g, Inbound) for g in got) == 4
        refused = [g for g in got if isinstance(g, Refusal)]
        assert {r.key for r in refused} == {"RATE_LIMITED"}
        # forgeries never reach the shared bucket
        raw = json.dumps({"partnerId": 9001, "body": {"orderId": 1}}).encode()
        from tests.channels.test_inbound_schemes import meituan_call

        forged = await procs[0][0].read_shared(meituan_call(raw, secret="x"), procs[0][1])
        assert isinstance(forged, Refusal) and forged.key == "BAD_SIGN"
    finally:
        for e in engines:
            await e.dispose()


async def test_a_token_taken_in_a_transaction_is_spent_only_if_it_commits(db_url: str) -> None:
    """`allow_in` (the stock pusher takes its partner budget inside the tick's own write
    transaction) draws on the same bucket as `allow`; a rolled-back take spends nothing."""
    engine = create_engine(db_url)
    now = [1000.0]
    try:
        limits = SharedBuckets(engine, timer=lambda: now[0])

        class Rollback(Exception):
            pass

        try:
            async with engine.begin() as conn:
                assert await limits.allow_in(conn, "k", 0.001, 2)  # creates the bucket
                assert await limits.allow_in(conn, "k", 0.001, 2)
                assert not await limits.allow_in(conn, "k", 0.001, 2)  # burst spent
                raise Rollback
        except Rollback:
            pass
        async with engine.begin() as conn:
            assert await limits.allow_in(conn, "k", 0.001, 2)  # the rollback gave both back
        assert await limits.allow("k", 0.001, 2)  # one bucket for both ways of asking
        assert not await limits.allow("k", 0.001, 2)
    finally:
        await engine.dispose()

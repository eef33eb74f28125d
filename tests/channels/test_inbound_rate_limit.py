"""`[limits].rate_per_second`: calls beyond a spec's inbound rate are refused in the
partner's own words (its INTERNAL code unless the spec names one for RATE_LIMITED), before
anything is decrypted or written; only calls carrying the partner's valid signature count."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from hub.channels import load_all
from hub.channels.adapter import HttpCall, Inbound, Refusal, SpecInbound
from hub.channels.spec import ChannelSpec, Limits, ResultEntry
from tests.channels.test_inbound_schemes import MEITUAN, meituan_call

NOW = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)


def limited(spec: ChannelSpec, rate: float, burst: int) -> ChannelSpec:
    return spec.model_copy(update={"limits": Limits(rate_per_second=rate, burst=burst)})


def meituan(rate: float, burst: int) -> SpecInbound:
    spec = limited(load_all()["meituan"], rate, burst)
    return SpecInbound(spec, {**MEITUAN, "MEITUAN_PARTNER_ID": "9001"}, clock=lambda: NOW)


def call() -> HttpCall:
    return meituan_call(json.dumps({"partnerId": 9001, "body": {"orderId": 1}}).encode())


def test_calls_beyond_the_burst_are_refused_and_answered_with_the_internal_code() -> None:
    mt = meituan(rate=0.001, burst=3)  # no refill within the test
    got = [mt.read(call()) for _ in range(5)]
    assert [isinstance(g, Inbound) for g in got] == [True, True, True, False, False]
    refused = got[3]
    assert isinstance(refused, Refusal) and refused.key == "RATE_LIMITED"
    answer = mt.refuse(refused, "pay")
    internal = mt.spec.result_entry("INTERNAL", "pay")
    assert answer["code"] == internal.code and answer["code"] != mt.spec.result_entry("OK").code


def test_a_spec_may_name_its_own_rate_limited_code() -> None:
    spec = limited(load_all()["meituan"], 0.001, 1)
    codes = {**spec.result_codes, "RATE_LIMITED": ResultEntry(code=429, message="slow down")}
    spec = spec.model_copy(update={"result_codes": codes})
    mt = SpecInbound(spec, {**MEITUAN, "MEITUAN_PARTNER_ID": "9001"}, clock=lambda: NOW)
    assert isinstance(mt.read(call()), Inbound)
    refused = mt.read(call())
    assert isinstance(refused, Refusal)
    assert mt.refuse(refused, "pay")["code"] == 429


def test_the_bucket_refills_at_the_rate() -> None:
    mt = meituan(rate=2.0, burst=1)
    now = [100.0]
    mt._buckets.timer = lambda: now[0]  # the limiter's clock, moved by hand
    assert isinstance(mt.read(call()), Inbound)
    assert isinstance(mt.read(call()), Refusal)  # the one token is spent
    now[0] += 0.4
    assert isinstance(mt.read(call()), Refusal)  # 0.8 of a token back
    now[0] += 0.1
    assert isinstance(mt.read(call()), Inbound)  # a whole one at 2 a second
    assert isinstance(mt.read(call()), Refusal)


def test_no_limit_declared_means_no_refusal() -> None:
    mt = SpecInbound(
        load_all()["meituan"], {**MEITUAN, "MEITUAN_PARTNER_ID": "9001"}, clock=lambda: NOW
    )
    assert mt.spec.limits.rate_per_second is None
    assert all(isinstance(mt.read(call()), Inbound) for _ in range(50))


def test_forgeries_do_not_spend_the_partners_budget() -> None:
    mt = meituan(rate=0.001, burst=2)
    raw = json.dumps({"partnerId": 9001, "body": {"orderId": 1}}).encode()
    for _ in range(10):  # someone floods the endpoint with calls signed by the wrong key
        forged = mt.read(meituan_call(raw, secret="not-the-secret"))
        assert isinstance(forged, Refusal) and forged.key == "BAD_SIGN"
    assert [isinstance(mt.read(call()), Inbound) for _ in range(3)] == [True, True, False]

"""The certificate verify on redemption: queued with the redemption, delivered through
the outbox to the sandbox Douyin OpenAPI (client_token, prepare, verify), through
timeouts, 5xx, busy codes, lost answers and expired tokens — each voucher verified once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hub.outbox import policies_from
from plugins.channel_douyin.certificates import VERIFY, VerifyPolicy
from tests.channel_kit import BRIDGE_SETTINGS, gate_decision, upload
from tests.douyin.kit import Rig, order, rig
from tests.support import T0


async def _paid(r: Rig, oid: str, count: int) -> list[str]:
    d = r.douyin()
    assert (await d.call("create_order", order(oid, count=count))).ok
    paid = await d.call("pay_notify", {"order_id": oid})
    assert paid.ok, paid
    codes = [c["code"] for c in paid.data["codes"]]
    for code in codes:  # Douyin imports the supplier's voucher codes from the answer
        r.douyin_api.issue(code)
    return codes


async def test_redemption_is_verified_once_through_failures(
    aiohttp_client: Any, db_url: str
) -> None:
    async with rig(aiohttp_client, db_url) as r:
        codes = await _paid(r, "v1", 2)
        api = r.douyin_api
        api.fail("token", "500")
        api.fail("prepare", "timeout")
        api.fail("verify", "code:2100004", "lost", "500")
        code = (await r.redeem("v1", 0, "red-1")).credential
        # the bridge retries its report: the same admission queues nothing more
        await r.redeem("v1", 0, "red-1-again")
        assert await r.rows() == 1
        await r.deliver_all()
        assert await r.rows("done") == 1
        assert api.verified == {code: api.verified[code]} and code in codes
        assert api.double_verifies == []
        # the lost answer was retried with the SAME verify_token (Douyin's idempotency)
        assert len(api.prepared) == 1 and len(api.verify_answers) == 1
        assert api.attempts["verify"] == 4 and api.tokens_issued == 1


async def test_concurrent_verifies_share_one_token(aiohttp_client: Any, db_url: str) -> None:
    # The slow token answer (0.2 s) and three calls per verify must all fit in one attempt:
    # within the kit's 0.4 s a loaded machine timed the first fetch out and fetched again.
    async with rig(aiohttp_client, db_url, attempt_seconds=10.0) as r:
        await _paid(r, "v2", 4)
        for i in range(4):
            await r.redeem("v2", i, f"red-{i}")
        api = r.douyin_api
        api.fail("token", "slow")  # the first fetch takes a while: the others wait for it
        channel = r.channel
        assert channel.verifier is not None and channel.api is not None
        await r.deliver_all()
        assert await r.rows("done") == 4
        assert api.tokens_issued == 1 and channel.api.fetches == 1
        assert len(api.verified) == 4 and api.double_verifies == []


async def test_an_expired_token_is_renewed_once(aiohttp_client: Any, db_url: str) -> None:
    async with rig(aiohttp_client, db_url) as r:
        await _paid(r, "v3", 2)
        api = r.douyin_api
        await r.redeem("v3", 0, "red-a")
        await r.deliver_all()
        assert api.tokens_issued == 1
        api.expire_tokens()  # Douyin ends the token before our clock says so
        await r.redeem("v3", 1, "red-b")
        await r.deliver_all()
        assert api.tokens_issued == 2 and len(api.verified) == 2
        assert await r.rows("done") == 2


async def test_a_refused_certificate_is_dead_lettered(aiohttp_client: Any, db_url: str) -> None:
    async with rig(aiohttp_client, db_url) as r:
        await _paid(r, "v4", 1)
        r.douyin_api.certificates.clear()  # Douyin does not know the voucher
        await r.redeem("v4", 0, "red-x")
        await r.deliver_all()
        assert await r.rows("dead") == 1 and r.douyin_api.verified == {}


async def test_the_verify_schedule_is_douyins(aiohttp_client: Any, db_url: str) -> None:
    """5 retries 5 s apart, then every 40 s — what the outbox gets for this call kind."""
    async with rig(aiohttp_client, db_url) as r:
        policy = policies_from(r.hub.plugins.channels.find)("douyin", VERIFY)
        assert isinstance(policy, VerifyPolicy)
        assert [policy.next_delay(n) for n in range(1, 9)] == [5, 5, 5, 5, 5, 40, 40, 40]
        assert policy.timeout_seconds == 0.4  # the test spec's attempt timeout


async def test_no_openapi_url_no_verify(aiohttp_client: Any, db_url: str) -> None:
    async with rig(aiohttp_client, db_url, extra={"DOUYIN_OPENAPI_URL": ""}) as r:
        await _paid(r, "v5", 1)
        await r.redeem("v5", 0, "red-y")
        assert await r.rows() == 0


async def test_gate_redemptions_uploaded_by_the_bridge_are_verified(
    aiohttp_client: Any, db_url: str
) -> None:
    """End to end with the hub's own redemption recording: the venue bridge uploads its
    gate decisions (retried), the hub fires ``ticket_redeemed``, Douyin hears once."""
    async with rig(aiohttp_client, db_url, **BRIDGE_SETTINGS) as r:
        d = r.douyin()
        assert (await d.call("create_order", order("g1", count=2))).ok
        paid = await d.call("pay_notify", {"order_id": "g1"})
        assert paid.ok, paid
        for c in paid.data["codes"]:
            r.douyin_api.issue(c["code"])
        first = paid.data["codes"][0]
        entry = gate_decision(
            "gate-decision-1", first["ticket_id"], T0 + timedelta(days=1), offline=True
        )
        r.douyin_api.fail("verify", "timeout", "500")
        await upload(r.client, entry, times=2)  # the bridge retries its upload
        assert await r.rows() == 1
        await r.deliver_all()
        assert list(r.douyin_api.verified) == [first["code"]]
        assert r.douyin_api.double_verifies == [] and await r.rows("done") == 1
        q = await d.call("query", {"order_ids": ["g1"]})
        assert q.data["orders"][0]["used_count"] == 1

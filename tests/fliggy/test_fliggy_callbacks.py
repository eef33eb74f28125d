"""Our TOP calls end to end: hub event → outbox (same transaction) → `plugins.channel_fliggy.top`
→ the sandbox TOP gateway, which verifies app key, timestamp and signature as TOP does.
Timeouts, 5xx and TOP's retryable errors are retried on the spec's schedule; its final
errors dead-letter the call; the gateway's ledger shows what Fliggy believes was used."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sandbox.ota.fliggy import booking
from tests.channel_kit import BRIDGE_SETTINGS, gate_decision, upload
from tests.fliggy.kit import rig
from tests.support import TOMORROW

VERIFY = "taobao.travel.ticket.order.verify"
REFUND = "taobao.travel.ticket.order.refund"


async def test_each_redemption_is_verified_once_through_timeouts_and_5xx(
    aiohttp_client: Any, db_url: str
) -> None:
    async with rig(aiohttp_client, db_url) as r:
        assert (await r.fliggy.call("create", booking("V1", day=TOMORROW, quantity=3))).ok
        await r.redeem("V1", 0, "red-1")
        await r.redeem("V1", 0, "red-1")  # the bridge re-uploads the same decision
        await r.redeem("V1", 1, "red-2")
        assert await r.rows(kind="verify") == 2
        r.gateway.fail_method(VERIFY, "timeout", "500", "top:15:isp.remote-service-unavailable")
        r.gateway.fail_method(VERIFY, "top:7")
        await r.deliver_all()
        calls = r.gateway.of(VERIFY)
        assert {c.params["write_off_type"] for c in calls} == {"0"}
        # the timed-out attempt WAS applied by TOP; its retry carried the same serial_num
        # and was not applied again: Fliggy believes exactly two tickets used
        assert r.gateway.used_total("V1") == 2
        assert len(r.gateway.duplicates) == 1
        assert len({c.serial for c in calls} | {d.serial for d in r.gateway.duplicates}) == 2
        infos = [c.json("voucher_infos") for c in calls]
        assert all(len(i) == 1 and i[0]["used_quantity"] == 1 for i in infos)
        assert infos[0][0]["used_date"] == "2026-11-22 10:00:00"  # Beijing time
        assert await r.rows("done") == await r.rows() == 2
        query = await r.fliggy.call("query", {"order_id": "V1"})
        assert query.data["used_quantity"] == 2


async def test_cumulative_write_off_carries_running_totals_at_delivery(
    aiohttp_client: Any, db_url: str
) -> None:
    async with rig(aiohttp_client, db_url, cumulative=True) as r:
        assert (await r.fliggy.call("create", booking("V2", day=TOMORROW, quantity=3))).ok
        await r.redeem("V2", 0, "c-1")
        await r.deliver_all()
        await r.redeem("V2", 1, "c-2")
        await r.redeem("V2", 2, "c-3")
        r.gateway.fail_method(VERIFY, "500")
        await r.deliver_all()
        calls = r.gateway.of(VERIFY)
        assert [c.params["write_off_type"] for c in calls] == ["1", "1", "1"]
        assert [len(c.json("voucher_infos")) for c in calls] == [1, 3, 3]
        assert r.gateway.used_total("V2") == 3


async def test_a_final_top_error_is_dead_lettered_after_one_attempt(
    aiohttp_client: Any, db_url: str
) -> None:
    async with rig(aiohttp_client, db_url) as r:
        assert (await r.fliggy.call("create", booking("V3", day=TOMORROW))).ok
        r.gateway.fail_method(REFUND, "top:15:isv.invalid-parameter")
        assert (await r.fliggy.call("refund", {"order_id": "V3"})).ok
        await r.deliver_all()
        assert r.gateway.attempts[REFUND] == 1
        assert r.gateway.of(REFUND) == []
        assert await r.rows("dead") == 1


async def test_a_refused_refund_request_is_reported_as_failed_once(
    aiohttp_client: Any, db_url: str
) -> None:
    async with rig(aiohttp_client, db_url) as r:
        assert (await r.fliggy.call("create", booking("V4", day=TOMORROW))).ok
        await r.redeem("V4", 0, "used-1")
        request = {"order_id": "V4", "refund_id": "RF-1"}
        refused = await r.fliggy.call("refund", request)
        assert refused.code == "3002", refused  # nothing left to refund
        again = await r.fliggy.call("refund", request)  # Fliggy asks again
        assert again.code == refused.code
        assert await r.rows(kind="refund") == 1  # queued before the answer, once
        await r.deliver_all()
        assert r.gateway.refund_status["V4"] == [2]
        assert len(r.gateway.of(VERIFY)) == 1


async def test_staff_refunds_are_reported_too(aiohttp_client: Any, db_url: str) -> None:
    async with rig(aiohttp_client, db_url) as r:
        assert (await r.fliggy.call("create", booking("V5", day=TOMORROW, quantity=2))).ok
        hub = r.hub
        order = await hub.orders.get(channel="fliggy", partner_order_id="V5")
        assert order is not None
        ticket = order.tickets[0].id
        assert (await hub.orders.refund(order.id, [ticket], key="staff-1")).ok
        await r.deliver_all()
        calls = r.gateway.of(REFUND)
        assert [c.params["refund_status"] for c in calls] == ["1"]
        assert calls[0].order_id == "V5"


async def test_without_a_gateway_url_nothing_is_queued(aiohttp_client: Any, db_url: str) -> None:
    async with rig(aiohttp_client, db_url, callbacks=False) as r:
        assert (await r.fliggy.call("create", booking("V6", day=TOMORROW))).ok
        await r.redeem("V6", 0, "n-1")
        refused = await r.fliggy.call("refund", {"order_id": "V6"})  # its ticket is used
        assert refused.code == "3002", refused  # nothing left to refund
        assert await r.rows() == 0


async def test_admissions_uploaded_by_the_venue_bridge_are_verified_at_top(
    aiohttp_client: Any, db_url: str
) -> None:
    """End to end with the hub's real redemption recording: the bridge uploads its gate
    decisions (twice: its retry); each admission is verified at TOP exactly once."""
    async with rig(aiohttp_client, db_url, hub_settings=BRIDGE_SETTINGS) as r:
        created = await r.fliggy.call("create", booking("G1", day=TOMORROW, quantity=2))
        vouchers = created.data["vouchers"]
        at = r.clock.now() + timedelta(days=1)  # on the travel day
        entries = [
            gate_decision(f"gate-decision-{i}", v["voucher_id"], at) for i, v in enumerate(vouchers)
        ]
        await upload(r.client, *entries, times=2)  # the bridge's retry of the same upload
        assert await r.rows(kind="verify") == 2
        r.gateway.fail_method(VERIFY, "500", "timeout")
        await r.deliver_all()
        calls = r.gateway.of(VERIFY)
        codes = sorted(c.json("voucher_infos")[0]["confirm_code"] for c in calls)
        assert codes == sorted(v["confirm_code"] for v in vouchers)
        assert r.gateway.used_total("G1") == 2
        query = await r.fliggy.call("query", {"order_id": "G1"})
        assert (query.data["status"], query.data["used_quantity"]) == ("USED", 2)


async def test_a_slow_gateway_within_the_attempt_is_one_call_beyond_it_a_repeat(
    aiohttp_client: Any, db_url: str
) -> None:
    async with rig(aiohttp_client, db_url) as r:
        assert (await r.fliggy.call("create", booking("S1", day=TOMORROW, quantity=2))).ok
        await r.redeem("S1", 0, "slow-1")
        r.gateway.fail_method(VERIFY, "slow:0.05")
        await r.deliver_all()
        assert r.gateway.attempts[VERIFY] == 1 and r.gateway.used_total("S1") == 1
        await r.redeem("S1", 1, "slow-2")
        r.gateway.fail_method(VERIFY, "slow:0.8")  # beyond the 0.4 s attempt, then applied
        await r.deliver_all()
        assert r.gateway.attempts[VERIFY] == 3
        assert r.gateway.used_total("S1") == 2  # the retry was recognised by serial_num
        assert await r.rows("done") == 2

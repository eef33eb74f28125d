"""Meituan notices end to end: order events → outbox (same transaction) → the generic
outbound module (MWS-signed, PartnerId, optionally encrypted) → the sandbox Meituan
receiver, which checks our signature and envelope as Meituan would. Partner timeouts,
5xx and "system error" answers are retried on the spec's (compressed) schedule; the
receiver's ledger shows every notice landed exactly once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sandbox.ota.meituan import CREATE, PAY, QUERY, REFUND
from tests.channel_kit import BRIDGE_SETTINGS, gate_decision, stock, upload
from tests.meituan.kit import order, paid_order, rig


async def test_refund_notice_lands_once_through_timeout_5xx_and_system_error(
    aiohttp_client: Any, db_url: str
) -> None:
    async with rig(aiohttp_client, db_url) as r:
        mt = r.meituan()
        await paid_order(mt, "n1", 3)
        assert await r.rows() == 0  # paying answers with the vouchers: no notice
        asked = "2026-11-22 10:00:00"
        refund = {"orderId": "n1", "refundId": "RF-1", "refundQuantity": 2, "requestTime": asked}
        assert (await mt.call(REFUND, refund)).ok
        assert (await mt.call(REFUND, refund)).ok  # Meituan's retry queues nothing more
        assert await r.rows(kind="refund_notice") == 1
        r.receiver.fail("timeout", "500", "code:599")
        await r.deliver_all()
        notices = r.receiver.of("refund")
        assert len(notices) == 1 and r.receiver.duplicates == [], r.receiver.received
        body = notices[0].body
        assert notices[0].path == "/rhone/mtp/api/order/refund/notice"
        assert (body["orderId"], body["refundId"], body["requestTime"]) == ("n1", "RF-1", asked)
        assert body["responseTime"] == "2026-11-22 10:00:00"  # the hub's clock at the refund
        assert (body["refundQuantity"], body["refundedQuantity"], body["quantity"]) == (2, 2, 3)
        assert r.receiver.hits == 4  # timeout, 500, 599, then success
        assert await r.rows("done") == await r.rows() == 1


async def test_consume_notices_carry_cumulative_totals(aiohttp_client: Any, db_url: str) -> None:
    async with rig(aiohttp_client, db_url) as r:
        mt = r.meituan()
        await paid_order(mt, "u1", 3)
        await r.redeem("u1", 0, "scan-1")
        await r.deliver_all()
        await r.redeem("u1", 1, "scan-2")
        r.receiver.fail("500")
        await r.deliver_all()
        assert (await mt.call(REFUND, {"orderId": "u1", "refundId": "RF-9"})).code == "606"
        assert (
            await mt.call(REFUND, {"orderId": "u1", "refundId": "RF-8", "refundQuantity": 1})
        ).ok
        await r.deliver_all()
        used = [(n.body["usedQuantity"], n.body["quantity"]) for n in r.receiver.of("consume")]
        assert used == [(1, 3), (2, 3)], r.receiver.accepted
        assert [n.body["refundedQuantity"] for n in r.receiver.of("consume")] == [0, 0]
        refund = r.receiver.of("refund")
        assert len(refund) == 1 and refund[0].body["refundId"] == "RF-8"
        assert r.receiver.duplicates == []
        assert await r.rows("done") == await r.rows() == 3


async def test_a_late_consume_notice_carries_the_latest_total(
    aiohttp_client: Any, db_url: str
) -> None:
    async with rig(aiohttp_client, db_url) as r:
        mt = r.meituan()
        await paid_order(mt, "late", 2)
        await r.redeem("late", 0, "scan-a")
        await r.redeem("late", 1, "scan-b")
        await r.redeem("late", 0, "scan-a")  # a retried report queues nothing more
        assert await r.rows(kind="consume_notice") == 2
        await r.deliver_all()
        totals = [n.body["usedQuantity"] for n in r.receiver.of("consume")]
        assert totals == [2]  # both delivered after both entries: the running total, once
        assert r.receiver.duplicates == [] and await r.rows("done") == 2


async def test_a_refund_the_venue_makes_is_notified_with_our_id(
    aiohttp_client: Any, db_url: str
) -> None:
    async with rig(aiohttp_client, db_url) as r:
        mt = r.meituan()
        paid = await paid_order(mt, "v1", 1)
        order_id = paid.body["partnerOrderId"]
        # staff tooling refunds through the order service (no partner request behind it)
        outcome = await r.hub.orders.refund(order_id, key="staff-refund-1")
        assert outcome.ok, outcome
        await r.deliver_all()
        [notice] = r.receiver.of("refund")
        assert notice.body["refundId"].startswith("S") and notice.body["orderId"] == "v1"
        assert notice.body["requestTime"] == notice.body["responseTime"]
        assert notice.body["refundedQuantity"] == 1


async def test_encrypted_notices_when_the_deployment_asks(aiohttp_client: Any, db_url: str) -> None:
    extra = {"MEITUAN_ENCRYPT_CALLBACKS": "true"}
    async with rig(aiohttp_client, db_url, extra=extra) as r:
        mt = r.meituan()
        await paid_order(mt, "x1", 1)
        assert (await mt.call(REFUND, {"orderId": "x1", "refundId": "RX"})).ok
        await r.deliver_all()
        [notice] = r.receiver.of("refund")
        assert notice.encrypted and notice.body["refundId"] == "RX"


async def test_a_definitive_refusal_is_dead_lettered_not_retried(
    aiohttp_client: Any, db_url: str
) -> None:
    async with rig(aiohttp_client, db_url, receiver_secret="meituan-knows-another") as r:
        mt = r.meituan()
        await paid_order(mt, "z1", 1)
        assert (await mt.call(REFUND, {"orderId": "z1", "refundId": "RZ"})).ok
        await r.deliver_all()
        assert await r.rows("dead") == 1
        assert r.receiver.refused == [(401, "bad signature")]  # one attempt, then an operator
        assert "401" in await r.last_error()


async def test_without_a_callback_url_notices_wait_as_dead_letters(
    aiohttp_client: Any, db_url: str
) -> None:
    async with rig(aiohttp_client, db_url, callbacks=False) as r:
        mt = r.meituan()
        await paid_order(mt, "w1", 1)
        assert (await mt.call(REFUND, {"orderId": "w1", "refundId": "RW"})).ok
        await r.deliver_all()
        assert await r.rows("dead") == 1  # kept, to replay once the URL is configured
        assert "not configured" in await r.last_error()
        assert r.receiver.hits == 0


async def test_admissions_uploaded_by_the_venue_bridge_reach_meituan(
    aiohttp_client: Any, db_url: str
) -> None:
    """End to end with the hub's real redemption recording: the bridge uploads gate
    decisions (twice: its retry), the hub fires ``ticket_redeemed`` once per admission,
    Meituan hears the cumulative total."""
    async with rig(aiohttp_client, db_url, hub_settings=BRIDGE_SETTINGS) as r:
        mt = r.meituan()
        vouchers = (await paid_order(mt, "g1", 2)).body["vouchers"]
        at = r.clock.now() + timedelta(days=1)  # on the travel day
        entries = [
            gate_decision(f"gate-decision-{i}", v["voucherId"], at) for i, v in enumerate(vouchers)
        ]
        await upload(r.client, *entries, times=2)  # the bridge's retry of the same upload
        assert await r.rows(kind="consume_notice") == 2
        await r.deliver_all()
        # both admissions delivered after both were recorded: one call says it all
        totals = [n.body["usedQuantity"] for n in r.receiver.of("consume")]
        assert totals == [2] and r.receiver.duplicates == []
        assert await r.rows("done") == 2
        q = (await mt.call(QUERY, {"orderId": "g1"})).body
        assert (q["orderStatus"], q["usedQuantity"]) == ("redeemed", 2)


async def test_asynchronous_issuing_answers_598_then_sends_the_vouchers(
    aiohttp_client: Any, db_url: str
) -> None:
    async with rig(aiohttp_client, db_url, extra={"MEITUAN_ASYNC_ISSUE": "true"}) as r:
        mt = r.meituan()
        assert (await mt.call(CREATE, order("a1", quantity=2))).ok
        pending = await mt.call(PAY, {"orderId": "a1"})
        assert pending.code == "598" and "vouchers" not in pending.body, pending
        assert (await stock(r.client)) == {"held": 0, "sold": 2}  # issued before answering
        assert (await mt.call(PAY, {"orderId": "a1"})).code == "598"  # Meituan polls: same
        assert await r.rows(kind="voucher_notice") == 1
        r.receiver.fail("500", "timeout")
        await r.deliver_all()
        [notice] = r.receiver.of("voucher")
        assert notice.path == "/rhone/mtp/api/order/voucher/notice"
        assert notice.body["orderId"] == "a1" and len(notice.body["vouchers"]) == 2
        codes = {v["voucherCode"] for v in notice.body["vouchers"]}
        paid = await mt.call(PAY, {"orderId": "a1"})  # Meituan heard: pay answers the vouchers
        assert paid.ok and {v["voucherCode"] for v in paid.body["vouchers"]} == codes, paid
        assert r.receiver.duplicates == [] and await r.rows("done") == 1

"""Ctrip callbacks end to end: order events → outbox (same transaction) → the generic
outbound module → the sandbox Ctrip receiver, which verifies our sign and decrypts our
body as Ctrip would. Partner timeouts, 5xx and busy codes are retried on the spec's
schedule; the receiver's ledger shows every call landed exactly once."""

from __future__ import annotations

from typing import Any

from tests.channel_kit import stock
from tests.ctrip.kit import callback_rig, id_passengers, order


async def test_pending_pay_is_confirmed_once_through_timeout_and_5xx(
    aiohttp_client: Any, db_url: str
) -> None:
    async with callback_rig(aiohttp_client, db_url) as rig:
        c = rig.ctrip
        assert (await c.call("CreatePreOrder", order("a1", quantity=2))).ok
        rig.receiver.fail_service("PayPreOrderConfirm", "timeout", "500", "code:1100")
        paid = await c.call(
            "PayPreOrder", {"otaOrderId": "a1", "sequenceId": "20261122" + "a" * 32}
        )
        assert paid.ok and paid.body["supplierConfirmType"] == 2, paid
        assert "vouchers" not in paid.body  # the result travels in the Confirm
        assert await stock(rig.client) == {"held": 0, "sold": 2}  # durable before the answer
        again = await c.call(
            "PayPreOrder", {"otaOrderId": "a1", "sequenceId": "20261122" + "a" * 32}
        )
        assert again.raw == paid.raw
        assert await rig.rows(kind="PayPreOrderConfirm") == 1
        await rig.deliver_all()
        confirms = rig.receiver.of("PayPreOrderConfirm")
        assert len(confirms) == 1 and rig.receiver.duplicates == []
        body = confirms[0].body
        assert body["sequenceId"] == "20261122" + "a" * 32  # the id of the request it confirms
        assert body["confirmResultCode"] == "0000" and len(body["vouchers"]) == 2
        # timeout, 500, busy, then success
        assert rig.receiver.attempts["PayPreOrderConfirm"] == 4
        assert await rig.rows("done") == await rig.rows()


async def test_pending_cancel_by_passenger_and_refund_are_confirmed(
    aiohttp_client: Any, db_url: str
) -> None:
    async with callback_rig(aiohttp_client, db_url) as rig:
        c = rig.ctrip
        people = id_passengers(3)
        assert (await c.call("CreateOrder", order("b1", "realname", 3, passengers=people))).ok
        cancel = {
            "otaOrderId": "b1",
            "sequenceId": "20261122" + "b" * 32,
            "cancelType": 2,
            "passengers": [people[1]],
        }
        answer = await c.call("CancelOrder", cancel)
        assert answer.ok and answer.body["supplierConfirmType"] == 2, answer
        refund = {"otaOrderId": "b1", "sequenceId": "20261122" + "c" * 32, "quantity": 1}
        assert (await c.call("RefundOrder", refund)).ok
        await rig.deliver_all()
        r = rig.receiver
        assert [x.body["sequenceId"] for x in r.of("CancelOrderConfirm")] == [cancel["sequenceId"]]
        assert [x.body["sequenceId"] for x in r.of("RefundOrderConfirm")] == [refund["sequenceId"]]
        assert r.of("CancelOrderConfirm")[0].body["cancelQuantity"] == 1
        assert r.of("RefundOrderConfirm")[0].body["cancelQuantity"] == 1
        assert len(r.of("CreateOrderConfirm")) == 1
        assert r.duplicates == []
        q = await c.call("QueryOrder", {"otaOrderId": "b1"})
        assert q.body["items"][0]["cancelQuantity"] == 2


async def test_synchronous_answers_send_no_confirm(aiohttp_client: Any, db_url: str) -> None:
    async with callback_rig(aiohttp_client, db_url, async_services="") as rig:
        c = rig.ctrip
        assert (await c.call("CreatePreOrder", order("s1"))).ok
        paid = await c.call("PayPreOrder", {"otaOrderId": "s1"})
        assert paid.body["supplierConfirmType"] == 1 and paid.body["vouchers"]
        await rig.deliver_all()
        assert [r.service for r in rig.receiver.accepted if "Confirm" in r.service] == []
        assert await rig.rows(kind="PayPreOrderConfirm") == 0


async def test_a_confirm_after_last_confirm_time_is_dead_lettered_unsent(
    aiohttp_client: Any, db_url: str
) -> None:
    async with callback_rig(aiohttp_client, db_url) as rig:
        c = rig.ctrip
        assert (await c.call("CreatePreOrder", order("l1"))).ok
        # T0 is 10:00 Beijing time; Ctrip stops waiting at 09:59
        pay = {"otaOrderId": "l1", "sequenceId": "s", "lastConfirmTime": "2026-11-22 09:59:00"}
        assert (await c.call("PayPreOrder", pay)).ok
        await rig.deliver_all()
        assert rig.receiver.attempts["PayPreOrderConfirm"] == 0
        assert await rig.rows("dead", kind="PayPreOrderConfirm") == 1


async def test_a_definitive_refusal_is_dead_lettered_after_one_attempt(
    aiohttp_client: Any, db_url: str
) -> None:
    async with callback_rig(aiohttp_client, db_url) as rig:
        c = rig.ctrip
        assert (await c.call("CreatePreOrder", order("d1"))).ok
        rig.receiver.fail_service("PayPreOrderConfirm", "code:2001")
        assert (await c.call("PayPreOrder", {"otaOrderId": "d1"})).ok
        await rig.deliver_all()
        assert rig.receiver.attempts["PayPreOrderConfirm"] == 1
        assert rig.receiver.of("PayPreOrderConfirm") == []
        assert await rig.rows("dead") == 1


async def test_consumed_notices_are_cumulative_at_delivery(
    aiohttp_client: Any, db_url: str
) -> None:
    async with callback_rig(aiohttp_client, db_url, async_services="") as rig:
        c = rig.ctrip
        assert (await c.call("CreateOrder", order("u1", quantity=3))).ok
        await rig.deliver_all()
        await rig.redeem("u1", 0, "red-1")
        await rig.deliver_all()
        await rig.redeem("u1", 1, "red-2")
        await rig.redeem("u1", 2, "red-3")
        rig.receiver.fail_service("OrderConsumedNotice", "500", "timeout")
        await rig.deliver_all()
        notices = rig.receiver.of("OrderConsumedNotice")
        # the first carried 1; the two later ones were delivered after both entries,
        # so each carries the running total at delivery: 3
        assert [n.body["useQuantity"] for n in notices] == [1, 3, 3]
        assert len({n.body["sequenceId"] for n in notices}) == 3
        assert rig.receiver.duplicates == []
        assert notices[-1].body["items"][0]["useQuantity"] == 3
        q = await c.call("QueryOrder", {"otaOrderId": "u1"})
        assert q.body["useQuantity"] == 3
        used = await c.call("CancelOrder", {"otaOrderId": "u1", "cancelType": 1, "quantity": 1})
        assert used.code == "2002"


async def test_a_redemption_recorded_twice_queues_one_notice(
    aiohttp_client: Any, db_url: str
) -> None:
    async with callback_rig(aiohttp_client, db_url, async_services="") as rig:
        assert (await rig.ctrip.call("CreateOrder", order("u2", quantity=2))).ok
        await rig.redeem("u2", 0, "red-9")
        await rig.redeem("u2", 0, "red-9")  # the bridge re-uploads the same decision
        assert await rig.rows(kind="OrderConsumedNotice") == 1
        await rig.deliver_all()
        assert len(rig.receiver.of("OrderConsumedNotice")) == 1

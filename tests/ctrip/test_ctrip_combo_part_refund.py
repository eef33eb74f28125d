"""A Ctrip combo's unused part refunded by staff (`hub.orders.parts`): Ctrip gets one
notice for it in its envelope (signed, AES body) — the serviceName the spec names,
since Ctrip documents no supplier-initiated refund (*unconfirmed*) — and the stock
pushed to Ctrip follows (the cable car's seat is back on sale).

The seed's combo is ``adult`` (the main gate) + ``cable`` (the cable car); the visitor
went through the main gate and skipped the cable car."""

from __future__ import annotations

from typing import Any

from hub.channels import load_all
from tests.ctrip.kit import callback_rig, order
from tests.stockpush.kit import push_all, stock_worker
from tests.support import ADMIN, TOMORROW, put
from tests.support import PART_REFUNDABLE_COMBO as COMBO

SEQ = "20261122" + "b" * 32


async def test_a_part_refund_is_told_to_ctrip_once(aiohttp_client: Any, db_url: str) -> None:
    service = load_all()["ctrip"].callbacks["PartRefundNotice"].operation
    async with callback_rig(aiohttp_client, db_url, async_services="") as rig:
        await put(rig.client, "/api/admin/products/combo", COMBO)
        c = rig.ctrip
        body = order("k1", plu="combo")
        body["items"][0]["price"] = 140  # yuan: the combo's price
        assert (await c.call("CreatePreOrder", body)).ok
        assert (await c.call("PayPreOrder", {"otaOrderId": "k1", "sequenceId": SEQ})).ok
        ticket = await rig.redeem("k1", 0, "k-main")  # the main gate
        assert ticket.parts is not None and ticket.parts["adult"].used == 1
        pusher = stock_worker(rig)
        await push_all(rig, pusher)  # Ctrip knows the stock before the refund
        book = rig.receiver.stock
        assert book.shows("cable", TOMORROW.isoformat()) == 9

        url = f"/api/admin/orders/{ticket.order_id}/tickets/{ticket.id}/refund-parts"
        headers = {**ADMIN, "Idempotency-Key": "desk-k1"}
        for _ in range(2):  # the desk's retry: one refund, one notice
            done = await rig.client.post(url, json={"parts": ["cable"]}, headers=headers)
            assert done.status == 200, await done.text()
        await rig.deliver_all()

        (notice,) = rig.receiver.of(service)
        told = notice.body
        assert (told["otaOrderId"], told["supplierOrderId"]) == ("k1", ticket.order_id)
        assert told["refundParts"] == [{"part": "cable"}] and told["refundAmount"] == 40.0
        assert [v["voucherId"] for v in told["vouchers"]] == [ticket.id]
        assert rig.receiver.duplicates == []

        await push_all(rig, pusher)  # the stock push follows the refund
        assert book.shows("cable", TOMORROW.isoformat()) == 10
        assert book.refused == []

"""End to end with the hub's real redemption recording: a venue bridge uploads gate
decisions (`/api/bridge/venues/{venue}/redemptions`), the upload's transaction fires
``ticket_redeemed``, and Ctrip receives cumulative OrderConsumedNotices — once each,
however often the bridge re-sends its upload."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.channel_kit import BRIDGE_SETTINGS, gate_decision, upload
from tests.ctrip.kit import callback_rig, order
from tests.support import T0

AT = T0 + timedelta(days=1)  # on the travel day


def entry(rid: str, ticket_id: str) -> dict[str, Any]:
    return gate_decision(rid, ticket_id, AT)


async def test_bridge_uploads_become_cumulative_consumed_notices(
    aiohttp_client: Any, db_url: str
) -> None:
    async with callback_rig(aiohttp_client, db_url, async_services="", **BRIDGE_SETTINGS) as rig:
        created = await rig.ctrip.call("CreateOrder", order("g1", quantity=3))
        assert created.ok, created
        tickets = [v["voucherId"] for v in created.body["vouchers"]]
        assert (await upload(rig.client, entry("d-1", tickets[0])))["recorded"] == 1
        await rig.deliver_all()
        again = await upload(rig.client, entry("d-1", tickets[0]), entry("d-2", tickets[1]))
        assert (again["recorded"], again["duplicates"]) == (1, 1)
        rig.receiver.fail_service("OrderConsumedNotice", "503")
        await rig.deliver_all()
        notices = rig.receiver.of("OrderConsumedNotice")
        assert [n.body["useQuantity"] for n in notices] == [1, 2]
        assert rig.receiver.duplicates == []
        assert {v["voucherId"] for v in notices[-1].body["vouchers"]} == set(tickets[:2])
        q = await rig.ctrip.call("QueryOrder", {"otaOrderId": "g1"})
        assert q.body["useQuantity"] == 2 and q.body["orderStatus"] == "partly_redeemed"
        used = await rig.ctrip.call(
            "CancelOrder", {"otaOrderId": "g1", "cancelType": 0, "sequenceId": "c"}
        )
        assert used.code == "2002"
        one_left = await rig.ctrip.call(
            "CancelOrder", {"otaOrderId": "g1", "cancelType": 1, "quantity": 1, "sequenceId": "d"}
        )
        assert one_left.ok, one_left

"""A merchant still on WeChat Pay v2 (MD5 or HMAC-SHA256), and the access token behind
subscribe messages — against the simulator."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from typing import Any

import pytest

from plugins.channel_wechat.channel import WeChatChannel
from tests.wechat.kit import PRICE, SLOT, eventually, start


@pytest.mark.parametrize(("sign_type", "cert"), [("MD5", "pem"), ("HMAC-SHA256", "p12")])
async def test_v2_merchant_pays_and_refunds(
    aiohttp_client: Any, db_url: str, stack: AsyncExitStack, sign_type: str, cert: str
) -> None:
    """The refund goes to /secapi over TLS with the merchant's API certificate, given as
    PEM files or as WeChat's PKCS#12."""
    w = await start(
        aiohttp_client,
        db_url,
        stack,
        pay_version="v2",
        sign_type=sign_type,
        tls=cert,
    )
    mp = await w.visitor("o-olga")
    created = await mp.order("ck-olga-00001", "adult", w.day, SLOT, 2)
    assert created.status == 201, created
    payment = created.body["payment"]
    assert payment["signType"] == sign_type and "paySign" in payment
    out_trade = created.body["order"]["out_trade_no"]
    assert w.sim.transaction(out_trade).api == "v2"
    notice = await (await w.pay(created, copies=2, concurrent=True, probe=True)).wait()
    assert notice.acknowledged and notice.probe_refused is True
    got = await mp.get(out_trade)
    assert got.order["state"] == "confirmed" and len(got.order["tickets"]) == 2
    assert await w.stock() == {"held": 0, "sold": 2}

    refunded = await mp.refund(out_trade, "rq-v2")
    assert refunded.ok and refunded.body["refunded_amount"] == 2 * PRICE
    assert await w.stock() == {"held": 0, "sold": 0}

    async def settled() -> bool:
        rows = await w.hub.store_for("wechat").list("refund", prefix=f"{out_trade}/")
        return len(rows) == 1 and rows[0][1]["status"] == "SUCCESS"  # from req_info

    await eventually(settled)
    (refund,) = w.refunds(out_trade)
    assert (refund.refund, refund.total, refund.api) == (2 * PRICE, 2 * PRICE, "v2")


async def test_access_token_is_fetched_once_for_concurrent_messages_and_renewed(
    aiohttp_client: Any, db_url: str, stack: AsyncExitStack
) -> None:
    w = await start(aiohttp_client, db_url, stack, outbox_workers=0)
    channel = w.hub.plugins.channels.get("wechat")
    assert isinstance(channel, WeChatChannel) and channel.messenger is not None
    for i in range(10):
        w.sim.issue_js_code(f"o-user{i}")  # visitors WeChat knows (they used the app)
    sends = [
        channel.messenger.send(f"o-user{i}", "tickets-issued", "pages/x", {"thing1": "t"})
        for i in range(8)
    ]
    await asyncio.gather(*sends)
    assert (w.sim.tokens_issued, len(w.sim.subscribe_messages)) == (1, 8)
    w.sim.login.expire_tokens()  # WeChat invalidates it (40001/42001 on the next send)
    await channel.messenger.send("o-user9", "tickets-issued", "pages/x", {"thing1": "t"})
    assert len(w.sim.subscribe_messages) == 9 and w.sim.tokens_issued == 2
    assert len({m.access_token for m in w.sim.subscribe_messages}) == 2

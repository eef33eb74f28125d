"""``out_trade_no`` is unique per merchant: hubs (venues) sharing one WeChat Pay merchant
account draw different numbers for the same visitor and client key, while a retry within
one hub gets the number of its first create."""

from __future__ import annotations

import asyncio
import re
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from plugins.channel_wechat.trades import NS, derived_out_trade_no
from tests.wechat.kit import PRICE, SLOT, start

WECHAT_NO = re.compile(r"[0-9A-Za-z_\-|*]{6,32}")  # WeChat's out_trade_no alphabet


async def test_two_hubs_on_one_merchant_draw_different_numbers_and_a_retry_the_same(
    aiohttp_client: Any, db_url: str, stack: AsyncExitStack, tmp_path: Path
) -> None:
    a = await start(aiohttp_client, db_url, stack)
    b = await start(
        aiohttp_client,
        f"sqlite+aiosqlite:///{tmp_path / 'hub-b.db'}",
        stack,
        merchant=a,
    )
    at_a, at_b = await a.visitor("o-mia"), await b.visitor("o-mia")
    first = await at_a.order("ck-mia-000001", "adult", a.day, SLOT, 2)
    other = await at_b.order("ck-mia-000001", "adult", b.day, SLOT, 2)
    assert first.status == 201 and other.status == 201, (first, other)
    no_a, no_b = first.body["order"]["out_trade_no"], other.body["order"]["out_trade_no"]
    assert no_a != no_b
    assert WECHAT_NO.fullmatch(no_a) and WECHAT_NO.fullmatch(no_b)
    # Two orders at WeChat, each paying into its own hub.
    assert a.sim.transaction(no_a).notify_url != a.sim.transaction(no_b).notify_url
    await (await b.pay(other)).wait()
    assert (await at_b.get(no_b)).order["state"] == "confirmed"
    assert (await at_a.get(no_a)).order["state"] == "held"

    # The mini-program's retries (also at once) get the first number and order.
    again = await asyncio.gather(
        *(at_a.order("ck-mia-000001", "adult", a.day, SLOT, 2) for _ in range(3))
    )
    assert {r.body["order"]["out_trade_no"] for r in again} == {no_a}
    assert {r.body["order"]["order_id"] for r in again} == {first.body["order"]["order_id"]}
    assert await a.stock() == {"held": 2, "sold": 0}


async def test_an_order_numbered_before_the_upgrade_keeps_its_number(
    aiohttp_client: Any, db_url: str, stack: AsyncExitStack
) -> None:
    """A trade stored under the old derived number (hubs before random numbers): the
    retry of its create still finds it, rather than opening a second order."""
    w = await start(aiohttp_client, db_url, stack)
    mp = await w.visitor("o-ned")
    legacy = derived_out_trade_no("o-ned", "ck-ned-000001")
    store = w.hub.store_for(NS)
    await store.put(
        "trade",
        legacy,
        {
            "out_trade_no": legacy,
            "openid": "o-ned",
            "amount": PRICE,
            "description": "adult",
            "created": "20260101000000000000",
        },
    )
    retried = await mp.order("ck-ned-000001", "adult", w.day, SLOT, 1)
    assert retried.status == 201 and retried.body["order"]["out_trade_no"] == legacy
    fresh = await mp.order("ck-ned-000002", "adult", w.day, SLOT, 1)
    assert fresh.body["order"]["out_trade_no"] != derived_out_trade_no("o-ned", "ck-ned-000002")

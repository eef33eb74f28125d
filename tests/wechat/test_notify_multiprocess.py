"""One payment notice delivered at the same moment to two hub processes sharing one
PostgreSQL database (as WeChat's servers do): the order is confirmed once, its tickets
issued once, its message queued once, and every delivery is answered 204."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
from sqlalchemy import func, select

from hub.storage.db import create_engine
from hub.storage.tables import OutboxRow, TicketRow
from hub.testing.processes import HubAdmin, HubProcesses
from sandbox.demo.wechat_client import MiniProgramClient
from sandbox.wechat.keys import generate_merchant_setup
from sandbox.wechat.server import WeChatSimulator
from tests.wechat.kit import PRICE, SLOT, travel_day

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
COPIES = 8


async def test_concurrent_notices_to_two_processes_confirm_once(pg_url: str) -> None:
    setup = generate_merchant_setup(time_scale=0.001)
    async with WeChatSimulator(setup.config).running() as sim:
        # WeChat's own deliveries go nowhere in this test: the test delivers the notice.
        channel = sim.hub_settings(setup.settings, notify_base="http://127.0.0.1:9")
        env = {"TICKETHUB_CHANNEL_SETTINGS": json.dumps({"wechat": channel})}
        async with (
            HubProcesses(pg_url, 2, env=env) as hubs,
            aiohttp.ClientSession() as http,
        ):
            admin = HubAdmin(http, hubs.urls[0], hubs.admin_token)
            day = travel_day()
            await admin.put_venue("v1", "Test Mountain")
            await admin.put_product(
                "adult",
                {"venue_id": "v1", "name": "Adult", "pool": "main", "prices": [{"amount": PRICE}]},
            )
            await admin.put_inventory("main", day, day, [(SLOT, 10)])
            mp = MiniProgramClient(http, hubs.urls[0])
            assert (await mp.login(sim.issue_js_code("o-sam"))).ok
            created = await mp.order("ck-sam-000001", "adult", day, SLOT, 2)
            assert created.status == 201, created
            out_trade = created.body["order"]["out_trade_no"]
            params = {"appId": sim.config.appid, **created.body["payment"]}
            await sim.pay(out_trade, pay_sign_params=params, delay=3600)
            txn = sim.transaction(out_trade)
            _, body = sim.notifier.v3_body(
                "TRANSACTION.SUCCESS", "支付成功", "transaction", txn.v3_resource()
            )

            async def deliver(url: str) -> int:
                headers = {"Content-Type": "application/json", **sim.notifier.signed_headers(body)}
                async with http.post(
                    f"{url}/api/wechat/notify/v3/pay", data=body.encode(), headers=headers
                ) as resp:
                    return resp.status

            statuses = await asyncio.gather(*(deliver(hubs.urls[i % 2]) for i in range(COPIES)))
            assert statuses == [204] * COPIES
            other = MiniProgramClient(http, hubs.urls[1])
            other.token = mp.token
            got = await other.get(out_trade)
            assert got.order["state"] == "confirmed" and len(got.order["tickets"]) == 2
            cells = await admin.inventory("main", day)
            cell = next(c for c in cells if c["slot"] == SLOT and c["bucket"] == "")
            assert (cell["held"], cell["sold"]) == (0, 2)
        engine = create_engine(pg_url)
        try:
            async with engine.connect() as conn:
                tickets = (await conn.execute(select(func.count()).select_from(TicketRow))).scalar()
                issued = (
                    await conn.execute(
                        select(func.count())
                        .select_from(OutboxRow)
                        .where(OutboxRow.__table__.c.dedupe_key.startswith("message:issued"))
                    )
                ).scalar()
        finally:
            await engine.dispose()
        assert (tickets, issued) == (2, 1)

"""Event hooks → outbox → partner: a confirmed order's callback is queued in the order's
own transaction and lands exactly once at a real HTTP partner that fails at first."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from hub.api.app import create_app
from hub.clock import ShiftedClock
from hub.outbox import RetryPolicy
from hub.plugins import build_plugins
from hub.sdk import ChannelContext, DeliveryError, Order, PartnerCall, Ticket, hookimpl
from hub.sdk.registries import ChannelRegistry
from hub.storage.tables import OutboxRow
from tests.support import BOX, T0, hub_of, order, seed, settings


class EchoPartner:
    """A partner channel whose callbacks are plain HTTP POSTs."""

    name = "echo"
    retry_policy = RetryPolicy(
        timeout_seconds=2,
        initial_seconds=0.02,
        max_seconds=0.05,
        jitter_seconds=0,
        deadline_seconds=60,
    )

    def __init__(self, url: str) -> None:
        self.url = url
        self.ctx: ChannelContext | None = None

    def setup(self, ctx: ChannelContext) -> None:
        self.ctx = ctx

    async def deliver(self, call: PartnerCall) -> None:
        assert self.ctx is not None
        body = {"key": call.dedupe_key, "kind": call.kind, **call.payload}
        async with self.ctx.http.post(self.url, json=body) as resp:
            if resp.status >= 500:
                raise DeliveryError(f"partner answered {resp.status}")


class EchoPlugin:
    def __init__(self, adapter: EchoPartner) -> None:
        self.adapter = adapter

    @hookimpl
    def register_channels(self, registry: ChannelRegistry) -> None:
        registry.add("echo", self.adapter)

    @hookimpl
    def order_confirmed(self, order: Order) -> list[PartnerCall]:
        return [
            PartnerCall(
                "echo",
                "issued",
                f"issued:{order.id}",
                {"order_id": order.id, "tickets": len(order.tickets)},
                order.id,
            )
        ]

    @hookimpl
    def order_refunded(self, order: Order, tickets: list[Ticket]) -> list[PartnerCall]:
        return [
            PartnerCall(
                "echo",
                "refunded",
                f"refunded:{order.id}:{len(tickets)}",
                {"order_id": order.id, "tickets": [t.id for t in tickets]},
                order.id,
            )
        ]


async def test_callbacks_land_once_through_partner_failures(
    aiohttp_client: Any, db_url: str
) -> None:
    received: Counter[str] = Counter()
    bodies: dict[str, Any] = {}
    failures = {"left": 3}

    async def partner(request: web.Request) -> web.Response:
        body = await request.json()
        if failures["left"] > 0:
            failures["left"] -= 1
            return web.Response(status=503)
        received[body["key"]] += 1
        bodies[body["key"]] = body
        return web.json_response({"ok": True})

    papp = web.Application()
    papp.router.add_post("/callback", partner)
    server = TestServer(papp, host="127.0.0.1")
    await server.start_server()
    try:
        adapter = EchoPartner(str(server.make_url("/callback")))
        plugins = build_plugins(extra=[EchoPlugin(adapter)])
        app = create_app(
            settings(db_url, outbox_workers=1, outbox_poll_seconds=0.05),
            plugins=plugins,
            clock=ShiftedClock(T0),
        )
        client = await aiohttp_client(app)
        await seed(client, capacity=4)
        results = await asyncio.gather(
            *(order(client, f"e{i}", quantity=1, confirm=True) for i in range(6))
        )
        sold = [b["order"] for s, b in results if s == 201]
        assert len(sold) == 4  # two were sold out: no callback for them
        refund = await client.post(
            f"/api/boxoffice/orders/{sold[0]['id']}/refund", json={}, headers=BOX
        )
        assert refund.status == 200
        expected = {f"issued:{o['id']}" for o in sold} | {f"refunded:{sold[0]['id']}:1"}
        for _ in range(400):
            if set(received) >= expected:
                break
            await asyncio.sleep(0.025)
        assert set(received) == expected
        assert all(n == 1 for n in received.values())
        assert bodies[f"issued:{sold[1]['id']}"]["tickets"] == 1
        # The partner has them; the worker records each success just after — wait for it.
        for _ in range(400):
            async with hub_of(client).engine.connect() as conn:
                rows = (await conn.execute(select(OutboxRow.state, OutboxRow.attempts))).all()
            if {r.state for r in rows} == {"done"}:
                break
            await asyncio.sleep(0.025)
        assert len(rows) == 5 and {r.state for r in rows} == {"done"}
        assert sum(r.attempts for r in rows) == 5 + 3  # the three 503s were retried
    finally:
        await server.close()

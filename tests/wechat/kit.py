"""The WeChat world of a test: the WeChat simulator on 127.0.0.1 and a hub whose WeChat
channel points at it, on the test's database; plus a venue to sell.

The hub runs on the real clock here (a `SystemClock`): WeChat signs its notifications
with real timestamps and the channel refuses those more than five minutes off, so the
travel day is computed from today (China time) rather than fixed.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import select

from hub.api.app import Hub, create_app
from hub.clock import SystemClock
from hub.plugins import build_plugins
from hub.storage.tables import OutboxRow
from hub.testing.channel_rig import ChannelOverride
from plugins.channel_wechat.channel import WeChatChannel
from sandbox.demo.wechat_client import MiniProgramClient
from sandbox.wechat.keys import MerchantSetup, generate_merchant_setup
from sandbox.wechat.ledger import Refund
from sandbox.wechat.server import WeChatSimulator
from tests.support import ADMIN, BACKGROUND_BOUND, hub_of, id_number, put, settings
from tests.wechat.pki import Pki, make_pki

SLOT = "09:00-11:00"
PRICE = 10000


def travel_day() -> str:
    china_today = (datetime.now(UTC) + timedelta(hours=8)).date()
    return (china_today + timedelta(days=1)).isoformat()


def listening_socket() -> socket.socket:
    """A socket already bound to a port of the kernel's choosing: the hub's address must
    be known before the hub is built (WeChat's notify URL), and a port merely found free
    could be taken by a parallel test before the hub binds it."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@dataclass
class World:
    client: TestClient
    sim: WeChatSimulator
    day: str
    setup: MerchantSetup
    pki: Pki | None = None

    @property
    def hub(self) -> Hub:
        return hub_of(self.client)

    async def visitor(self, openid: str) -> MiniProgramClient:
        mp = MiniProgramClient(self.client)
        reply = await mp.login(self.sim.issue_js_code(openid))
        assert reply.ok, reply
        return mp

    async def stock(self) -> dict[str, int]:
        resp = await self.client.get(
            f"/api/admin/inventory?pool=main&date={self.day}", headers=ADMIN
        )
        cell = next(
            c for c in (await resp.json())["cells"] if c["bucket"] == "" and c["slot"] == SLOT
        )
        return {"held": cell["held"], "sold": cell["sold"]}

    async def outbox(self) -> list[tuple[str, str, str]]:
        """(kind, dedupe_key, state) of every queued partner call of the channel."""
        t = OutboxRow.__table__.c
        async with self.hub.engine.connect() as conn:
            rows = await conn.execute(
                select(t.kind, t.dedupe_key, t.state).where(t.partner == "wechat").order_by(t.id)
            )
            return [(str(k), str(d), str(s)) for k, d, s in rows.all()]

    def refunds(self, out_trade: str) -> list[Refund]:
        """WeChat's side of the books: the simulator's refunds of one trade."""
        return [r for r in self.sim.ledger.refunds.values() if r.out_trade_no == out_trade]

    async def settled_refunds(
        self, out_trade: str, n: int, timeout: float = BACKGROUND_BOUND
    ) -> list[Refund]:
        """Wait until WeChat holds exactly ``n`` refunds of the trade, all settled
        (SUCCESS), and return them: the hub's refund calls go out through its outbox."""

        async def settled() -> bool:
            done = self.refunds(out_trade)
            return len(done) == n and all(r.status == "SUCCESS" for r in done)

        await eventually(settled, timeout)
        return self.refunds(out_trade)

    async def pay(self, reply: Any, **options: Any) -> Any:
        """``wx.requestPayment`` with the parameters the hub gave, then WeChat's notice."""
        params = {"appId": self.sim.config.appid, **reply.body["payment"]}
        return await self.sim.pay(
            reply.body["order"]["out_trade_no"], pay_sign_params=params, **options
        )


async def eventually(
    check: Callable[[], Awaitable[bool]], timeout: float = BACKGROUND_BOUND
) -> None:
    """Wait until `check` holds: outbox deliveries happen in the background. The bound
    is a hang guard (see `BACKGROUND_BOUND`), never a speed check."""
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.05)


def real_name(seq: int) -> dict[str, str]:
    return {"name": f"游客{seq}", "id_type": "id_card", "id_number": id_number("19900307", seq)}


async def start(
    aiohttp_client: Any,
    db_url: str,
    stack: AsyncExitStack,
    *,
    pay_version: str = "v3",
    sign_type: str = "MD5",
    capacity: int = 10,
    hold_ttl: int = 900,
    outbox_workers: int = 1,
    merchant: World | None = None,
    extra: dict[str, str] | None = None,
    tls: str = "",
    attempt_seconds: float | None = None,
) -> World:
    """A hub on `db_url` selling through WeChat. `merchant` is another world, for a
    second hub on the same merchant account (its simulator and PKI); `extra` adds
    channel settings. With `tls` (``pem``, ``p12``, ``none``, ``impostor``: the hub's
    client certificate) WeChat Pay is reached over TLS: a test PKI is made for the
    merchant (`World.pki`), the hub trusts its CA. `attempt_seconds` replaces the
    channel's 10 s per-call timeout (only the timeout: the backoff stays WeChat's), for a
    test that has WeChat not answer and must wait that timeout out."""
    if merchant is None:
        setup = generate_merchant_setup(
            pay_version=pay_version, v2_sign_type=sign_type, time_scale=0.001
        )
        pki = make_pki(setup.config.mchid) if tls else None
        sim_tls = pki.sim_tls() if pki is not None else None
        sim = await stack.enter_async_context(WeChatSimulator(setup.config).running(tls=sim_tls))
    else:
        sim, setup, pki = merchant.sim, merchant.setup, merchant.pki
    sock = listening_socket()
    port = int(sock.getsockname()[1])
    channel = sim.hub_settings(
        setup.settings, notify_base=f"http://127.0.0.1:{port}", tls=pki is not None
    )
    if pki is not None:
        channel["WECHAT_PAY_CA_BUNDLE"] = pki.ca_pem
        if tls == "impostor":
            channel.update(pki.client_settings("pem", pki.impostor))
        else:
            channel.update(pki.client_settings(tls))
    channel.update(extra or {})
    hub_settings = settings(
        db_url,
        channel_settings={"wechat": channel},
        hold_ttl_seconds=hold_ttl,
        outbox_workers=outbox_workers,
        outbox_poll_seconds=0.05,
    )
    overrides: list[object] = []
    if attempt_seconds is not None:
        wechat = WeChatChannel()
        wechat.retry_policy = WeChatChannel.retry_policy.model_copy(
            update={"timeout_seconds": attempt_seconds}
        )
        overrides.append(ChannelOverride(WeChatChannel.name, wechat))
    app = create_app(
        hub_settings,
        plugins=build_plugins(blocked=hub_settings.blocked_plugins, extra=overrides),
        clock=SystemClock(),
    )
    client = await aiohttp_client(
        app, server_kwargs={"port": port, "socket_factory": lambda *_: sock}
    )
    day = travel_day()
    await put(
        client, "/api/admin/venues/v1", {"name": "Test Mountain", "timezone": "Asia/Shanghai"}
    )
    await put(
        client,
        "/api/admin/products/adult",
        {"venue_id": "v1", "name": "Adult", "pool": "main", "prices": [{"amount": PRICE}]},
    )
    await put(
        client,
        "/api/admin/products/realname",
        {
            "venue_id": "v1",
            "name": "Real-name",
            "pool": "main",
            "prices": [{"amount": PRICE}],
            "rules": {
                "sale": [
                    {"check": "real_name"},
                    {"check": "per_id_daily_limit", "limit": 1, "scope": "venue"},
                ]
            },
        },
    )
    await put(
        client,
        "/api/admin/inventory",
        {
            "pool": "main",
            "date_from": day,
            "date_to": day,
            "slots": [{"code": SLOT, "capacity": capacity}],
        },
    )
    return World(client, sim, day, setup, pki)

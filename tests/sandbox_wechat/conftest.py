"""Fixtures: one merchant's keys per session, a fresh simulator per test, real clients.

The clients are the real libraries (wechatpy, wechatpayv3), synchronous, so tests run
them with `asyncio.to_thread` against the simulator on a real 127.0.0.1 port. The
merchant's notification endpoint is a small aiohttp app that verifies every notice with
those same libraries and answers as a merchant would (or as the test scripts it to).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from wechatpayv3 import WeChatPay as WeChatPayV3
from wechatpayv3 import WeChatPayType

from sandbox.wechat import MerchantSetup, WeChatSimulator, generate_merchant_setup
from tests.wechat.pki import Pki, make_pki

V2_SUCCESS = (
    "<xml><return_code><![CDATA[SUCCESS]]></return_code>"
    "<return_msg><![CDATA[OK]]></return_msg></xml>"
)
V2_FAIL = (
    "<xml><return_code><![CDATA[FAIL]]></return_code>"
    "<return_msg><![CDATA[bad signature]]></return_msg></xml>"
)


@pytest.fixture(scope="session")
def merchant_setup() -> MerchantSetup:
    """Fresh RSA keys once per session (key generation is the slow part)."""
    return generate_merchant_setup(time_scale=0.001)


@pytest.fixture(scope="session")
def pki(merchant_setup: MerchantSetup) -> Pki:
    """The test CA, the simulator's TLS certificate and the merchant's API certificate."""
    return make_pki(merchant_setup.config.mchid)


@pytest.fixture
async def sim(merchant_setup: MerchantSetup, pki: Pki) -> AsyncIterator[WeChatSimulator]:
    config = dataclasses.replace(merchant_setup.config, notify_timeout=2.0)
    async with WeChatSimulator(config).running(tls=pki.sim_tls()) as running:
        yield running


@pytest.fixture
def settings(sim: WeChatSimulator, merchant_setup: MerchantSetup) -> dict[str, str]:
    return sim.hub_settings(merchant_setup.settings)


def v3_client(settings: dict[str, str], base_url: str) -> WeChatPayV3:
    """wechatpayv3 in public-key mode, its gateway pointed at the simulator."""
    client = WeChatPayV3(
        wechatpay_type=WeChatPayType.MINIPROG,
        mchid=settings["WECHAT_MCHID"],
        private_key=settings["WECHAT_MCH_PRIVATE_KEY"],
        cert_serial_no=settings["WECHAT_MCH_SERIAL"],
        appid=settings["WECHAT_APPID"],
        apiv3_key=settings["WECHAT_APIV3_KEY"],
        public_key=settings["WECHAT_PAY_PUBLIC_KEY"],
        public_key_id=settings["WECHAT_PAY_PUBLIC_KEY_ID"],
        timeout=(2, 5),
    )
    client._core._gate_way = base_url  # the library hard-codes api.mch.weixin.qq.com
    return client


@pytest.fixture
def wxpay(settings: dict[str, str], sim: WeChatSimulator) -> WeChatPayV3:
    return v3_client(settings, sim.base_url)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: str
    verified: Any  # what the client library made of it (None / exception when refused)
    status: int


@dataclass
class Merchant:
    """The merchant's notify endpoint: verifies with the real library, answers as told.

    `script` holds HTTP statuses to answer first (e.g. [500, 500] = fail twice), after
    which a verified notice gets 204 (v3) or SUCCESS (v2) and a forged one 401 / FAIL.
    """

    wxpay: WeChatPayV3
    v2_verify: Any = None  # callable(xml) -> dict, raising on a bad notice
    script: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    base_url: str = ""
    slow: float = 0.0
    delays: list[float] = field(default_factory=list)  # per request, before `slow`

    async def v3(self, request: web.Request) -> web.Response:
        body = await request.text()
        result = await asyncio.to_thread(self.wxpay.callback, request.headers, body)
        pause = self.delays.pop(0) if self.delays else self.slow
        if pause:
            await asyncio.sleep(pause)
        status = self.script.pop(0) if self.script else (204 if result else 401)
        self.received.append(Received(request.path, dict(request.headers), body, result, status))
        if status == 401:
            return web.json_response({"code": "FAIL", "message": "签名错误"}, status=401)
        return web.Response(status=status)

    async def v2(self, request: web.Request) -> web.Response:
        body = await request.text()
        try:
            result = self.v2_verify(body) if self.v2_verify else None
        except Exception as exc:  # the library's refusal is the answer we record
            result = exc
        ok = not isinstance(result, Exception)
        status = self.script.pop(0) if self.script else 200
        self.received.append(Received(request.path, dict(request.headers), body, result, status))
        return web.Response(
            status=status, text=V2_SUCCESS if ok else V2_FAIL, content_type="text/xml"
        )

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"


@pytest.fixture
async def merchant(wxpay: WeChatPayV3) -> AsyncIterator[Merchant]:
    m = Merchant(wxpay)
    app = web.Application()
    app.add_routes([web.post("/notify/v3", m.v3), web.post("/notify/v2", m.v2)])
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    assert site._server is not None
    m.base_url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
    try:
        yield m
    finally:
        await runner.cleanup()

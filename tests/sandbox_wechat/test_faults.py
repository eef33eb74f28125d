"""Failures switched on per path, seen through the real client libraries."""

from __future__ import annotations

import asyncio
import json

import pytest
import requests
from wechatpy.exceptions import WeChatClientException, WeChatPayException
from wechatpy.pay import WeChatPay

from sandbox.wechat import MerchantSetup, WeChatSimulator
from tests.sandbox_wechat.conftest import Merchant, v3_client
from tests.sandbox_wechat.test_login import SimWeChatClient
from tests.sandbox_wechat.test_pay_v3 import create, order_no


async def test_timeout_then_processed_so_the_retry_gets_the_same_answer(
    sim: WeChatSimulator, settings: dict[str, str], merchant: Merchant
) -> None:
    impatient = v3_client(settings, sim.base_url)
    impatient._core._timeout = (2, 0.3)
    sim.faults.add("/v3/pay/transactions/jsapi", "timeout", seconds=0.6)
    no = order_no()
    with pytest.raises(requests.exceptions.ReadTimeout):
        await create(impatient, merchant, no)
    for _ in range(200):  # WeChat went on and created the order after the client gave up
        if no in sim.ledger.transactions:
            break
        await asyncio.sleep(0.01)
    created = sim.transaction(no)
    code, body = await create(impatient, merchant, no)  # the fault fired once only
    assert code == 200 and body["prepay_id"] == created.prepay_id


async def test_5xx_and_system_error_and_rate_limit_on_v3(
    sim: WeChatSimulator, settings: dict[str, str], merchant: Merchant
) -> None:
    wxpay = v3_client(settings, sim.base_url)
    no = order_no()
    sim.faults.add("/v3/pay/transactions/jsapi", "http_5xx", status=503)
    sim.faults.add("/v3/pay/transactions/jsapi", "system_error")
    sim.faults.add("/v3/pay/transactions/jsapi", "rate_limit")
    code, _ = await asyncio.to_thread(
        wxpay.pay,
        description="x",
        out_trade_no=no,
        amount={"total": 1},
        payer={"openid": "o"},
        notify_url=merchant.url("/notify/v3"),
    )
    assert code == 503
    code, body = await create(wxpay, merchant, no)
    assert code == 500 and body["code"] == "SYSTEM_ERROR"
    code, body = await create(wxpay, merchant, no)
    assert code == 429 and body["code"] == "FREQUENCY_LIMITED"
    assert no not in sim.ledger.transactions
    code, body = await create(wxpay, merchant, no)
    assert code == 200 and body["prepay_id"]
    assert not sim.faults.active


async def test_faults_only_on_their_path_and_count(
    sim: WeChatSimulator, settings: dict[str, str], merchant: Merchant
) -> None:
    wxpay = v3_client(settings, sim.base_url)
    sim.faults.add("/v3/refund/", "system_error", times=None)
    code, _ = await create(wxpay, merchant, order_no())
    assert code == 200
    for _ in range(3):
        code, _ = await asyncio.to_thread(wxpay.query_refund, out_refund_no="R-anything")
        assert code == 500
    assert sim.faults.active[0].fired == 3
    sim.faults.clear()
    code, _ = await asyncio.to_thread(wxpay.query_refund, out_refund_no="R-anything")
    assert code == 404


async def test_login_rate_limit_and_system_error(
    sim: WeChatSimulator, settings: dict[str, str]
) -> None:
    client = SimWeChatClient(sim.base_url, settings["WECHAT_APPID"], settings["WECHAT_SECRET"])
    code = sim.issue_js_code("o-busy")
    sim.faults.add("/sns/jscode2session", "rate_limit")
    sim.faults.add("/sns/jscode2session", "system_error")
    with pytest.raises(WeChatClientException) as limited:  # 45011, the minute quota
        await asyncio.to_thread(client.wxa.code_to_session, code)
    assert limited.value.errcode == 45011
    with pytest.raises(WeChatClientException) as busy:
        await asyncio.to_thread(client.wxa.code_to_session, code)
    assert busy.value.errcode == -1
    assert (await asyncio.to_thread(client.wxa.code_to_session, code))["openid"] == "o-busy"


async def test_v2_system_error_and_5xx(sim: WeChatSimulator, settings: dict[str, str]) -> None:
    v2 = WeChatPay(settings["WECHAT_APPID"], settings["WECHAT_V2_KEY"], settings["WECHAT_MCHID"])
    v2.API_BASE_URL = f"{sim.base_url}/"
    sim.faults.add("/pay/orderquery", "system_error")
    sim.faults.add("/pay/orderquery", "http_5xx")
    with pytest.raises(WeChatPayException) as busy:
        await asyncio.to_thread(v2.order.query, out_trade_no="V-x")
    assert busy.value.errcode == "SYSTEMERROR"
    with pytest.raises(WeChatPayException) as gateway:
        await asyncio.to_thread(v2.order.query, out_trade_no="V-x")
    assert gateway.value.response.status_code == 502


async def test_stopping_ends_a_held_request(merchant_setup: MerchantSetup) -> None:
    async with WeChatSimulator(merchant_setup.config).running() as sim:
        fault = sim.faults.add("/cgi-bin/token", "timeout", seconds=60)
        held = asyncio.create_task(
            asyncio.to_thread(requests.get, f"{sim.base_url}/cgi-bin/token", timeout=30)
        )
        for _ in range(500):
            if fault.fired:
                break
            await asyncio.sleep(0.01)
        assert fault.fired == 1
    answer = await asyncio.wait_for(held, 10)  # not 60 s: stopping woke the held request
    assert answer.status_code == 503


def test_unknown_fault_mode_is_refused(sim: WeChatSimulator) -> None:
    with pytest.raises(ValueError, match="unknown fault mode"):
        sim.faults.add("/v3/", "explode")
    with pytest.raises(ValueError, match="5xx"):
        sim.faults.add("/v3/", "http_5xx", status=404)
    assert json.dumps([f.mode for f in sim.faults.active]) == "[]"

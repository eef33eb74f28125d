"""Mini-program login, access tokens and subscribe messages through wechatpy's client."""

from __future__ import annotations

import asyncio
import json

import pytest
import requests
from wechatpy.client import WeChatClient
from wechatpy.crypto import WeChatWxaCrypto
from wechatpy.exceptions import WeChatClientException

from sandbox.wechat import WeChatSimulator


class SimWeChatClient(WeChatClient):
    """wechatpy's client with its (hard-coded) token URL pointed at the simulator."""

    def __init__(self, base_url: str, appid: str, secret: str) -> None:
        super().__init__(appid, secret, timeout=5)
        self.base_url = base_url
        self.API_BASE_URL = f"{base_url}/cgi-bin/"
        self.wxa.API_BASE_URL = f"{base_url}/"

    def fetch_access_token(self) -> dict[str, object]:
        return self._fetch_access_token(
            url=f"{self.base_url}/cgi-bin/token",
            params={"grant_type": "client_credential", "appid": self.appid, "secret": self.secret},
        )


@pytest.fixture
def client(sim: WeChatSimulator, settings: dict[str, str]) -> SimWeChatClient:
    return SimWeChatClient(sim.base_url, settings["WECHAT_APPID"], settings["WECHAT_SECRET"])


async def test_code_to_session_once_then_40029(
    sim: WeChatSimulator, client: SimWeChatClient
) -> None:
    code = sim.issue_js_code("o-visitor-1", unionid="u-1")
    session = await asyncio.to_thread(client.wxa.code_to_session, code)
    assert session["openid"] == "o-visitor-1" and session["unionid"] == "u-1"
    assert len(__import__("base64").b64decode(session["session_key"])) == 16
    with pytest.raises(WeChatClientException) as used:
        await asyncio.to_thread(client.wxa.code_to_session, code)
    assert used.value.errcode == 40029
    with pytest.raises(WeChatClientException) as unknown:
        await asyncio.to_thread(client.wxa.code_to_session, "not-a-code")
    assert unknown.value.errcode == 40029


async def test_code_expires_after_five_minutes(
    sim: WeChatSimulator, client: SimWeChatClient
) -> None:
    code = sim.issue_js_code("o-late")
    sim.clock.advance(301)
    with pytest.raises(WeChatClientException) as expired:
        await asyncio.to_thread(client.wxa.code_to_session, code)
    assert expired.value.errcode == 40029


async def test_bad_appid_and_secret(sim: WeChatSimulator, settings: dict[str, str]) -> None:
    code = sim.issue_js_code("o-x")
    wrong_app = SimWeChatClient(sim.base_url, "wx-wrong", settings["WECHAT_SECRET"])
    with pytest.raises(WeChatClientException) as bad_app:
        await asyncio.to_thread(wrong_app.wxa.code_to_session, code)
    assert bad_app.value.errcode == 40013
    wrong_secret = SimWeChatClient(sim.base_url, settings["WECHAT_APPID"], "nope")
    with pytest.raises(WeChatClientException) as bad_secret:
        await asyncio.to_thread(wrong_secret.wxa.code_to_session, code)
    assert bad_secret.value.errcode == 40125
    # the refused attempts did not use the code up
    ok = SimWeChatClient(sim.base_url, settings["WECHAT_APPID"], settings["WECHAT_SECRET"])
    assert (await asyncio.to_thread(ok.wxa.code_to_session, code))["openid"] == "o-x"


async def test_phone_number_decrypts_with_wechatpy(
    sim: WeChatSimulator, client: SimWeChatClient, settings: dict[str, str]
) -> None:
    session = await asyncio.to_thread(client.wxa.code_to_session, sim.issue_js_code("o-phone"))
    sealed = sim.encrypt_phone_number("o-phone", "13800138000")
    crypto = WeChatWxaCrypto(session["session_key"], sealed["iv"], settings["WECHAT_APPID"])
    plain = crypto.decrypt_message(sealed["encryptedData"])
    assert plain["phoneNumber"] == plain["purePhoneNumber"] == "13800138000"
    assert plain["countryCode"] == "86"
    assert plain["watermark"]["appid"] == settings["WECHAT_APPID"]
    # a session key from an earlier login no longer opens data sealed after a new login
    await asyncio.to_thread(client.wxa.code_to_session, sim.issue_js_code("o-phone"))
    resealed = sim.encrypt_phone_number("o-phone", "13800138000")
    stale = WeChatWxaCrypto(session["session_key"], resealed["iv"], settings["WECHAT_APPID"])
    with pytest.raises((ValueError, UnicodeDecodeError, KeyError)):
        stale.decrypt_message(resealed["encryptedData"])


async def test_subscribe_message_fetches_token_once_and_is_recorded(
    sim: WeChatSimulator, client: SimWeChatClient
) -> None:
    sim.issue_js_code("o-sub")
    data = {"thing1": {"value": "Sunrise slot"}, "date2": {"value": "2026-11-23"}}
    for _ in range(3):
        answer = await asyncio.to_thread(
            client.wxa.send_subscribe_message, "o-sub", "TPL-1", data, "pages/ticket"
        )
        assert answer["errcode"] == 0 and answer["msgid"]
    assert sim.tokens_issued == 1
    assert [(m.touser, m.template_id, m.page, m.data) for m in sim.subscribe_messages] == [
        ("o-sub", "TPL-1", "pages/ticket", data)
    ] * 3


async def test_expired_token_is_42001_and_wechatpy_refreshes(
    sim: WeChatSimulator, client: SimWeChatClient
) -> None:
    sim.issue_js_code("o-sub")
    data = {"thing1": {"value": "x"}}
    await asyncio.to_thread(client.wxa.send_subscribe_message, "o-sub", "TPL", data)
    old = client.session.get(client.access_token_key)
    sim.clock.advance(7201)
    raw = await asyncio.to_thread(
        requests.post,
        f"{sim.base_url}/cgi-bin/message/subscribe/send",
        params={"access_token": old},
        data=json.dumps({"touser": "o-sub", "template_id": "TPL", "data": data}),
        timeout=5,
    )
    assert raw.json()["errcode"] == 42001
    # wechatpy still believes its token is fresh: it gets 42001, refetches, and retries
    answer = await asyncio.to_thread(client.wxa.send_subscribe_message, "o-sub", "TPL", data)
    assert answer["errcode"] == 0 and sim.tokens_issued == 2
    bogus = await asyncio.to_thread(
        requests.post,
        f"{sim.base_url}/cgi-bin/message/subscribe/send",
        params={"access_token": "forged"},
        data=json.dumps({"touser": "o-sub", "template_id": "TPL", "data": data}),
        timeout=5,
    )
    assert bogus.json()["errcode"] == 40001


async def test_stable_token_same_until_forced(
    sim: WeChatSimulator, settings: dict[str, str]
) -> None:
    body = {
        "grant_type": "client_credential",
        "appid": settings["WECHAT_APPID"],
        "secret": settings["WECHAT_SECRET"],
    }
    url = f"{sim.base_url}/cgi-bin/stable_token"

    async def post(**extra: object) -> dict[str, object]:
        r = await asyncio.to_thread(requests.post, url, json={**body, **extra}, timeout=5)
        return r.json()

    first, second = await post(), await post(force_refresh=False)
    assert first["access_token"] == second["access_token"] and first["expires_in"] == 7200
    assert sim.tokens_issued == 1
    forced = await post(force_refresh=True)
    assert forced["access_token"] != first["access_token"] and sim.tokens_issued == 2
    sim.clock.advance(7200)
    renewed = await post()
    assert renewed["access_token"] != forced["access_token"] and sim.tokens_issued == 3
    assert (await post(secret="wrong"))["errcode"] == 40125
    assert (await post(appid="wx0"))["errcode"] == 40013

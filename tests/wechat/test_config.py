"""The channel's settings: checked at start, and a hub without them still serves."""

from __future__ import annotations

from typing import Any

import pytest

from plugins.channel_wechat.config import NotConfigured, load
from sandbox.wechat.keys import generate_merchant_setup
from tests.support import hub_client


@pytest.fixture(scope="module")
def settings() -> dict[str, str]:
    return dict(generate_merchant_setup(notify_base="https://hub.example").settings)


def test_v3_and_v2_settings_load(settings: dict[str, str]) -> None:
    v3 = load(settings)
    assert v3.v3 and v3.notify_url("pay") == "https://hub.example/api/wechat/notify/v3/pay"
    v2 = load({**settings, "WECHAT_PAY_VERSION": "v2", "WECHAT_V2_SIGN_TYPE": "HMAC-SHA256"})
    assert (v2.v3, v2.v2_sign_type) == (False, "HMAC-SHA256")


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"WECHAT_APPID": ""}, "WECHAT_APPID"),
        ({"WECHAT_PAY_VERSION": "v4"}, "WECHAT_PAY_VERSION"),
        ({"WECHAT_MCH_PRIVATE_KEY": "-----BEGIN PRIVATE KEY-----\nnope"}, "unreadable key"),
        ({"WECHAT_APIV3_KEY": "short"}, "32 bytes"),
        ({"WECHAT_PAY_VERSION": "v2", "WECHAT_V2_SIGN_TYPE": "SHA1"}, "WECHAT_V2_SIGN_TYPE"),
        ({"WECHAT_PAY_VERSION": "v2", "WECHAT_V2_KEY": "x"}, "32 characters"),
    ],
)
def test_bad_settings_name_the_problem(
    settings: dict[str, str], change: dict[str, str], problem: str
) -> None:
    with pytest.raises(NotConfigured, match=problem):
        load({**settings, **change})


async def test_a_hub_without_wechat_settings_serves_and_says_so(
    aiohttp_client: Any, sqlite_url: str
) -> None:
    client = await hub_client(aiohttp_client, sqlite_url)
    resp = await client.post("/api/wechat/login", json={"js_code": "x"})
    assert (resp.status, (await resp.json())["code"]) == (503, "NOT_CONFIGURED")
    resp = await client.post("/api/wechat/notify/v3/pay", data=b"{}")
    assert (resp.status, (await resp.json())["code"]) == (503, "FAIL")
    resp = await client.post("/api/wechat/notify/v2/pay", data=b"<xml></xml>")
    assert resp.status == 503 and "FAIL" in await resp.text()
    assert (await client.get("/healthz")).status == 200

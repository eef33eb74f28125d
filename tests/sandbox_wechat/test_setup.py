"""The merchant setup helper: the settings names agreed with plugins/channel_wechat."""

from __future__ import annotations

import dataclasses
from typing import Any

import aiohttp
import pytest
from cryptography.hazmat.primitives import serialization

from sandbox.wechat import MerchantSetup, WeChatSimulator, hub_settings

AGREED = {
    "WECHAT_APPID",
    "WECHAT_SECRET",
    "WECHAT_MCHID",
    "WECHAT_PAY_VERSION",
    "WECHAT_MCH_PRIVATE_KEY",
    "WECHAT_MCH_SERIAL",
    "WECHAT_PAY_PUBLIC_KEY",
    "WECHAT_PAY_PUBLIC_KEY_ID",
    "WECHAT_APIV3_KEY",
    "WECHAT_V2_KEY",
    "WECHAT_V2_SIGN_TYPE",
    "WECHAT_API_BASE",
    "WECHAT_PAY_BASE",
    "WECHAT_NOTIFY_BASE",
}


def test_settings_names_and_matching_keys(merchant_setup: MerchantSetup) -> None:
    config, settings = merchant_setup
    assert set(settings) == AGREED
    private = serialization.load_pem_private_key(
        settings["WECHAT_MCH_PRIVATE_KEY"].encode(), password=None
    )
    public = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert public.decode() == config.merchant_public_key_pem  # the pair WeChat verifies with
    platform = serialization.load_pem_private_key(
        config.platform_private_key_pem.encode(), password=None
    )
    assert (
        platform.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
        == settings["WECHAT_PAY_PUBLIC_KEY"]
    )
    assert settings["WECHAT_PAY_PUBLIC_KEY_ID"].startswith("PUB_KEY_ID_")
    assert len(settings["WECHAT_APIV3_KEY"].encode()) == 32
    assert (settings["WECHAT_PAY_VERSION"], settings["WECHAT_V2_SIGN_TYPE"]) == ("v3", "MD5")


async def test_hub_settings_point_at_the_running_simulator(merchant_setup: MerchantSetup) -> None:
    async with WeChatSimulator(merchant_setup.config).running() as sim:
        s = sim.hub_settings(merchant_setup.settings, notify_base="http://127.0.0.1:8700")
        assert s["WECHAT_API_BASE"] == s["WECHAT_PAY_BASE"] == sim.base_url
        assert sim.base_url.startswith("http://127.0.0.1:") and s["WECHAT_NOTIFY_BASE"]


def test_bad_configuration_is_refused(merchant_setup: MerchantSetup) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        dataclasses.replace(merchant_setup.config, apiv3_key="short")
    with pytest.raises(ValueError, match="pay_version"):
        hub_settings(merchant_setup.config, "pem", pay_version="v4")
    with pytest.raises(ValueError, match="v2_sign_type"):
        hub_settings(merchant_setup.config, "pem", v2_sign_type="SHA1")
    v2 = hub_settings(merchant_setup.config, "pem", pay_version="v2", v2_sign_type="HMAC-SHA256")
    assert (v2["WECHAT_PAY_VERSION"], v2["WECHAT_V2_SIGN_TYPE"]) == ("v2", "HMAC-SHA256")


async def test_app_runs_under_pytest_aiohttp(
    merchant_setup: MerchantSetup, aiohttp_server: Any
) -> None:
    sim = WeChatSimulator(merchant_setup.config)
    server = await aiohttp_server(sim.app)
    sim.base_url = str(server.make_url("")).rstrip("/")
    code = sim.issue_js_code("o-in-process")
    async with aiohttp.ClientSession() as http:
        params = {
            "appid": merchant_setup.config.appid,
            "secret": merchant_setup.config.app_secret,
            "js_code": code,
            "grant_type": "authorization_code",
        }
        async with http.get(f"{sim.base_url}/sns/jscode2session", params=params) as r:
            assert (await r.json())["openid"] == "o-in-process"

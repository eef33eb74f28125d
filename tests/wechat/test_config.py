"""The channel's settings: checked at start, and a hub without them still serves."""

from __future__ import annotations

import ssl
from typing import Any

import pytest

from plugins.channel_wechat.config import NotConfigured, load
from sandbox.wechat.keys import generate_merchant_setup
from tests.support import hub_client
from tests.wechat.pki import Pki, make_pki


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


@pytest.fixture(scope="module")
def pki(settings: dict[str, str]) -> Pki:
    return make_pki(settings["WECHAT_MCHID"])


def test_client_certificate_as_pem_or_pkcs12_loads(settings: dict[str, str], pki: Pki) -> None:
    v2 = {**settings, "WECHAT_PAY_VERSION": "v2"}
    assert (load(v2).pay_ssl, load(v2).client_cert) == (None, False)
    for form in ("pem", "p12"):
        cfg = load({**v2, **pki.client_settings(form), "WECHAT_PAY_CA_BUNDLE": pki.ca_pem})
        assert isinstance(cfg.pay_ssl, ssl.SSLContext) and cfg.client_cert
        assert cfg.pay_ssl.verify_mode is ssl.CERT_REQUIRED
    # WeChat's .p12 comes with the merchant id as its password
    mine = make_pki(settings["WECHAT_MCHID"], p12_password=settings["WECHAT_MCHID"])
    p12 = {"WECHAT_CLIENT_P12": mine.client_settings("p12")["WECHAT_CLIENT_P12"]}
    assert load({**v2, **p12}).client_cert
    trust_only = load({**v2, "WECHAT_PAY_CA_BUNDLE": pki.ca_pem})
    assert trust_only.pay_ssl is not None and not trust_only.client_cert


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"WECHAT_CLIENT_KEY": ""}, "go together"),
        ({"WECHAT_CLIENT_CERT": "-----BEGIN CERTIFICATE-----\nnope"}, "WECHAT_CLIENT_CERT"),
        ({"WECHAT_CLIENT_KEY": "not a key"}, "WECHAT_CLIENT_KEY"),
        ({"WECHAT_CLIENT_KEY": "impostor"}, "not the client certificate's key"),
        ({"WECHAT_CLIENT_P12": "x"}, "not both"),
        ({"WECHAT_PAY_CA_BUNDLE": "nope"}, "WECHAT_PAY_CA_BUNDLE"),
    ],
)
def test_bad_certificate_settings_name_the_problem(
    settings: dict[str, str], pki: Pki, change: dict[str, str], problem: str
) -> None:
    if change.get("WECHAT_CLIENT_KEY") == "impostor":
        change = {"WECHAT_CLIENT_KEY": pki.impostor.key_pem}
    with pytest.raises(NotConfigured, match=problem):
        load({**settings, **pki.client_settings("pem"), **change})


@pytest.mark.parametrize(
    ("p12", "problem"),
    [("not base64!", "not base64"), ("wrong password", "does not open")],
)
def test_bad_pkcs12_names_the_problem(
    settings: dict[str, str], pki: Pki, p12: str, problem: str
) -> None:
    given = pki.client_settings("p12")
    if p12 == "wrong password":
        given["WECHAT_CLIENT_P12_PASSWORD"] = "guess"
    else:
        given["WECHAT_CLIENT_P12"] = p12
    with pytest.raises(NotConfigured, match=problem):
        load({**settings, **given})

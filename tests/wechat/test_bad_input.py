"""Bad notifications and bad mini-program calls: a clear refusal in WeChat's form (v3
``{"code": "FAIL"}`` with a non-2xx status, v2 ``FAIL`` XML), nothing written, and a log
line without personal data."""

from __future__ import annotations

import json
import logging
import time
from contextlib import AsyncExitStack
from typing import Any

import pytest

from sandbox.wechat.keys import (
    ecb_encrypt_req_info,
    load_private,
    new_rsa_key,
    private_pem,
    random_str,
    sign_lines,
    v2_sign,
)
from tests.wechat.kit import SLOT, World, real_name, start

V3_PAY = "/api/wechat/notify/v3/pay"


async def held(w: World, openid: str = "o-mallory") -> tuple[Any, dict[str, Any]]:
    mp = await w.visitor(openid)
    created = await mp.order(f"ck-{openid}-0001", "realname", w.day, SLOT, 1, [real_name(7)])
    assert created.status == 201, created
    return mp, created.body["order"]


def paid_resource(w: World, out_trade: str, **over: Any) -> dict[str, Any]:
    txn = w.sim.transaction(out_trade)
    resource = {
        **txn.v3_resource(),
        "trade_state": "SUCCESS",
        "transaction_id": "4200000001" + random_str(18, "0123456789"),
    }
    resource.update(over)
    return resource


def v3_notice(w: World, resource: dict[str, Any]) -> tuple[str, dict[str, str]]:
    _, body = w.sim.notifier.v3_body("TRANSACTION.SUCCESS", "支付成功", "transaction", resource)
    return body, w.sim.notifier.signed_headers(body)


def resign(w: World, body: str, **over: str) -> dict[str, str]:
    stamp = over.get("timestamp", str(int(time.time())))
    key = over.get("key_pem", w.sim.config.platform_private_key_pem)
    nonce = random_str(32)
    return {
        "Wechatpay-Serial": over.get("serial", w.sim.config.platform_public_key_id),
        "Wechatpay-Signature": sign_lines(load_private(key), stamp, nonce, body),
        "Wechatpay-Timestamp": stamp,
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
    }


async def post(w: World, body: str | bytes, headers: dict[str, str]) -> tuple[int, Any]:
    resp = await w.client.post(
        V3_PAY,
        data=body if isinstance(body, bytes) else body.encode(),
        headers={"Content-Type": "application/json", **headers},
    )
    text = await resp.text()
    return resp.status, json.loads(text) if text else None


async def test_v3_forgeries_and_mismatches_are_refused_and_write_nothing(
    aiohttp_client: Any, db_url: str, stack: AsyncExitStack, caplog: pytest.LogCaptureFixture
) -> None:
    w = await start(aiohttp_client, db_url, stack, outbox_workers=0)
    mp, order = await held(w)
    out_trade = order["out_trade_no"]
    good_body, good_headers = v3_notice(w, paid_resource(w, out_trade))
    other_key = private_pem(new_rsa_key())
    tampered = json.loads(good_body)
    raw = bytearray(tampered["resource"]["ciphertext"].encode())
    raw[10] = ord("A") if raw[10] != ord("A") else ord("B")
    tampered["resource"]["ciphertext"] = raw.decode()
    tampered_body = json.dumps(tampered)
    wrong_amount, _ = v3_notice(w, paid_resource(w, out_trade, amount={"total": 1}))
    wrong_mch, _ = v3_notice(w, paid_resource(w, out_trade, mchid="1234567890"))
    other_payer, _ = v3_notice(w, paid_resource(w, out_trade, payer={"openid": "o-eve"}))
    unknown, _ = v3_notice(w, paid_resource(w, out_trade, out_trade_no="TH" + "0" * 30))
    cases: list[tuple[str, str | bytes, dict[str, str], int]] = [
        ("no signature", good_body, {}, 401),
        ("forged signature", good_body, resign(w, good_body, key_pem=other_key), 401),
        ("wrong serial", good_body, resign(w, good_body, serial="PUB_KEY_ID_0000"), 401),
        ("stale", good_body, resign(w, good_body, timestamp=str(int(time.time()) - 600)), 401),
        ("changed body", good_body.replace('"id"', '"ID"'), good_headers, 401),
        ("tampered ciphertext", tampered_body, resign(w, tampered_body), 400),
        ("wrong amount", wrong_amount, resign(w, wrong_amount), 400),
        ("wrong merchant", wrong_mch, resign(w, wrong_mch), 400),
        ("another payer", other_payer, resign(w, other_payer), 400),
        ("unknown out_trade_no", unknown, resign(w, unknown), 404),
        ("not JSON", "{not json", resign(w, "{not json"), 400),
        ("not UTF-8", b"\xff\xfe{}", {}, 400),
        ("oversized", "x" * 70_000, resign(w, "x" * 70_000), 413),
    ]
    caplog.set_level(logging.WARNING, logger="plugins.channel_wechat")
    for label, body, headers, status in cases:
        got, answer = await post(w, body, headers)
        assert (got, answer["code"]) == (status, "FAIL"), (label, got, answer)
        assert answer["message"], label
    assert (await mp.get(out_trade)).order["state"] == "held"
    assert await w.stock() == {"held": 1, "sold": 0}
    assert await w.hub.store_for("wechat").list("payment") == []
    refusals = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(refusals) == len(cases)
    assert not any("o-mallory" in m or real_name(7)["id_number"] in m for m in refusals)

    # the genuine notice still goes through afterwards
    got, _ = await post(w, good_body, good_headers)
    assert got == 204
    assert (await mp.get(out_trade)).order["state"] == "confirmed"


async def test_mini_program_bad_calls(
    aiohttp_client: Any, db_url: str, stack: AsyncExitStack
) -> None:
    w = await start(aiohttp_client, db_url, stack, outbox_workers=0)
    from sandbox.demo.wechat_client import MiniProgramClient

    anon = MiniProgramClient(w.client)
    assert (await anon.mine()).code == "LOGIN_REQUIRED"
    anon.token = "made-up"
    assert (await anon.mine()).status == 401
    bad = await MiniProgramClient(w.client).login("not-a-code")
    assert (bad.status, bad.code, bad.body["details"]["errcode"]) == (401, "LOGIN_FAILED", 40029)
    code = w.sim.issue_js_code("o-nina")
    mp = MiniProgramClient(w.client)
    assert (await mp.login(code)).ok
    assert "session_key" not in json.dumps((await mp.mine()).body)
    reused = await MiniProgramClient(w.client).login(code)
    assert reused.code == "LOGIN_FAILED"  # a wx.login code is good once
    no_names = await mp.order("ck-nina-000001", "realname", w.day, SLOT, 2)
    assert no_names.status == 422, no_names
    malformed = await mp.call("POST", "/orders", {"client_key": "x"})
    assert (malformed.status, malformed.code) == (422, "INVALID_REQUEST")
    not_json = await mp.call("POST", "/orders", data=b"{oops")
    assert (not_json.status, not_json.code) == (400, "INVALID_REQUEST")
    too_many = await mp.order("ck-nina-000002", "adult", w.day, SLOT, 11)
    assert too_many.code == "SOLD_OUT"
    assert await w.stock() == {"held": 0, "sold": 0}
    # phone number from getPhoneNumber's encryptedData, with the session key kept here
    shared = w.sim.encrypt_phone_number("o-nina", "13812345678")
    assert (await mp.phone(shared)).body["phone"] == "13812345678"
    forged = {**shared, "encryptedData": shared["encryptedData"][:-8] + "AAAAAAA="}
    assert (await mp.phone(forged)).code == "DECRYPT_FAILED"


async def test_v2_forged_notifications_are_refused_in_xml(
    aiohttp_client: Any, db_url: str, stack: AsyncExitStack
) -> None:
    w = await start(aiohttp_client, db_url, stack, pay_version="v2", outbox_workers=0)
    mp, order = await held(w)
    txn = w.sim.transaction(order["out_trade_no"])
    cfg = w.sim.config
    params = {
        "return_code": "SUCCESS",
        "result_code": "SUCCESS",
        "appid": cfg.appid,
        "mch_id": cfg.mchid,
        "nonce_str": random_str(16),
        "openid": txn.openid,
        "out_trade_no": txn.out_trade_no,
        "transaction_id": "4200000002" + random_str(18, "0123456789"),
        "total_fee": str(txn.total),
        "time_end": "20261122100000",
    }

    def xml(p: dict[str, str]) -> bytes:
        return ("<xml>" + "".join(f"<{k}>{v}</{k}>" for k, v in p.items()) + "</xml>").encode()

    def signed(p: dict[str, str], key: str = cfg.v2_api_key) -> dict[str, str]:
        return {**p, "sign": v2_sign(p, key, "MD5")}

    bad = [
        xml(signed(params, "f" * 32)),  # signed with another key
        xml(params),  # unsigned
        xml(signed({**params, "total_fee": "1"})),  # wrong amount
        xml(signed({**params, "out_trade_no": "TH" + "1" * 30})),  # unknown order
        b"<xml><oops></xml>",
        b"<!DOCTYPE x [<!ENTITY e 'e'>]><xml><a>&e;</a></xml>",
        xml({**signed(params), "sign": _tampered(signed(params)["sign"])}),
    ]
    for body in bad:
        resp = await w.client.post("/api/wechat/notify/v2/pay", data=body)
        text = await resp.text()
        assert resp.status >= 400 and "<return_code><![CDATA[FAIL]]>" in text, (body, text)
    refund_forgery = xml(
        {
            "return_code": "SUCCESS",
            "appid": cfg.appid,
            "mch_id": cfg.mchid,
            "req_info": ecb_encrypt_req_info(
                "e" * 32, "<root><out_refund_no>x</out_refund_no></root>"
            ),
        }
    )
    resp = await w.client.post("/api/wechat/notify/v2/refund", data=refund_forgery)
    assert resp.status == 401 and "FAIL" in await resp.text()
    assert (await mp.get(order["out_trade_no"])).order["state"] == "held"
    good = await w.client.post("/api/wechat/notify/v2/pay", data=xml(signed(params)))
    assert good.status == 200 and "SUCCESS" in await good.text()
    assert (await mp.get(order["out_trade_no"])).order["state"] == "confirmed"


def _tampered(sign: str) -> str:
    """The sign lowercased with its last digit changed — never equal to the real one.

    (Replacing the last character with a fixed "0" left the sign intact whenever it
    already ended in 0: one run in sixteen accepted the "forgery".)
    """
    last = "1" if sign[-1] == "0" else "0"
    return sign.lower()[:-1] + last

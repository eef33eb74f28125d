"""WeChat Pay v2 through wechatpy's WeChatPay: XML, MD5 and HMAC-SHA256, notices, refunds."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import xmltodict
from wechatpy.exceptions import WeChatPayException
from wechatpy.pay import WeChatPay
from wechatpy.pay.utils import calculate_signature, calculate_signature_hmac, dict_to_xml

from sandbox.wechat import WeChatSimulator
from tests.sandbox_wechat.conftest import Merchant
from tests.wechat.pki import Issued, Pki

MakeClient = Callable[[Issued | None], WeChatPay]


@pytest.fixture
def make_v2(
    sim: WeChatSimulator, settings: dict[str, str], tmp_path: Path, pki: Pki
) -> Iterator[MakeClient]:
    """wechatpy's v2 clients on the simulator's TLS listener, trusting the test CA, each
    with its API certificate (None: without one); closed before the simulator stops."""
    ca = tmp_path / "ca.pem"
    ca.write_text(pki.ca_pem)
    made: list[WeChatPay] = []

    def make(cert: Issued | None) -> WeChatPay:
        files: dict[str, str] = {}
        if cert is not None:
            folder = tmp_path / f"cert{len(made)}"
            folder.mkdir()
            (folder / "cert.pem").write_text(cert.cert_pem)
            (folder / "key.pem").write_text(cert.key_pem)
            files = {"mch_cert": str(folder / "cert.pem"), "mch_key": str(folder / "key.pem")}
        client = WeChatPay(
            appid=settings["WECHAT_APPID"],
            api_key=settings["WECHAT_V2_KEY"],
            mch_id=settings["WECHAT_MCHID"],
            timeout=5,
            **files,
        )
        client.API_BASE_URL = f"{sim.tls_base_url}/"  # the library hard-codes the host
        client._http.verify = str(ca)
        client._http.trust_env = False  # else REQUESTS_CA_BUNDLE would override `verify`
        made.append(client)
        return client

    yield make
    for client in made:
        client._http.close()


@pytest.fixture
def v2(make_v2: MakeClient, pki: Pki) -> WeChatPay:
    return make_v2(pki.merchant)


def order_no() -> str:
    return "V" + uuid.uuid4().hex[:20]


def answer_signed(answer: dict[str, Any], key: str, sign_type: str = "MD5") -> bool:
    fields = {k: v for k, v in answer.items() if k != "sign"}
    sign = calculate_signature_hmac if sign_type == "HMAC-SHA256" else calculate_signature
    return answer["sign"] == sign(fields, key)


async def unified(
    v2: WeChatPay, merchant: Merchant, no: str, total: int = 5000, **extra: Any
) -> dict[str, Any]:
    return await asyncio.to_thread(
        v2.order.create,
        trade_type="JSAPI",
        body="Sunrise ticket",
        total_fee=total,
        notify_url=merchant.url("/notify/v2"),
        client_ip="127.0.0.1",
        user_id="o-v2-buyer",
        out_trade_no=no,
        **extra,
    )


@pytest.mark.parametrize("sign_type", ["MD5", "HMAC-SHA256"])
async def test_unified_order_query_close(
    v2: WeChatPay, merchant: Merchant, sim: WeChatSimulator, sign_type: str
) -> None:
    no = order_no()
    created = await unified(v2, merchant, no, sign_type=sign_type)
    assert created["result_code"] == "SUCCESS" and created["prepay_id"].startswith("wx")
    assert answer_signed(created, v2.api_key, sign_type)
    assert sim.transaction(no).v2_sign_type == sign_type
    again = await unified(v2, merchant, no, sign_type=sign_type)
    assert again["prepay_id"] == created["prepay_id"]
    with pytest.raises(WeChatPayException) as changed:
        await unified(v2, merchant, no, total=6000, sign_type=sign_type)
    assert changed.value.errcode == "INVALID_REQUEST"

    queried = await asyncio.to_thread(v2.order.query, out_trade_no=no)
    assert queried["trade_state"] == "NOTPAY" and queried["total_fee"] == "5000"
    assert answer_signed(queried, v2.api_key)
    closed = await asyncio.to_thread(v2.order.close, out_trade_no=no)
    assert closed["result_code"] == "SUCCESS"
    assert (await asyncio.to_thread(v2.order.query, out_trade_no=no))["trade_state"] == "CLOSED"
    with pytest.raises(WeChatPayException) as missing:
        await asyncio.to_thread(v2.order.query, out_trade_no="V-no-such")
    assert missing.value.errcode == "ORDERNOTEXIST"


async def test_hmac_query_answer_is_hmac_signed(v2: WeChatPay, merchant: Merchant) -> None:
    no = order_no()
    await unified(v2, merchant, no, sign_type="HMAC-SHA256")
    answer = await asyncio.to_thread(
        v2.post,
        "pay/orderquery",
        data={"appid": v2.appid, "out_trade_no": no, "sign_type": "HMAC-SHA256"},
    )
    assert answer["trade_state"] == "NOTPAY" and answer_signed(answer, v2.api_key, "HMAC-SHA256")


async def test_bad_signature_and_bad_xml_refused(
    v2: WeChatPay, sim: WeChatSimulator, settings: dict[str, str]
) -> None:
    forger = WeChatPay(settings["WECHAT_APPID"], "x" * 32, settings["WECHAT_MCHID"], timeout=5)
    forger.API_BASE_URL = f"{sim.base_url}/"
    with pytest.raises(WeChatPayException) as refused:
        await asyncio.to_thread(forger.order.query, out_trade_no="V-anything")
    assert refused.value.return_code == "FAIL" and refused.value.return_msg == "签名错误"
    assert sim.v2.refused_requests == 1
    for body in (b"not xml", b"<!DOCTYPE x [<!ENTITY a 'b'>]><xml><a>&a;</a></xml>"):
        r = await asyncio.to_thread(
            requests.post, f"{sim.base_url}/pay/orderquery", data=body, timeout=5
        )
        parsed = xmltodict.parse(r.text)["xml"]
        assert r.status_code == 200 and parsed["return_code"] == "FAIL"


async def test_payment_notice_verified_by_wechatpy(
    v2: WeChatPay, merchant: Merchant, sim: WeChatSimulator
) -> None:
    merchant.v2_verify = v2.parse_payment_result
    no = order_no()
    created = await unified(v2, merchant, no, attach="order-7")
    params = await asyncio.to_thread(v2.jsapi.get_jsapi_params, created["prepay_id"])
    with pytest.raises(ValueError, match="paySign"):
        await sim.pay(no, pay_sign_params={**params, "paySign": "0" * 32})
    notice = await (await sim.pay(no, pay_sign_params=params, probe=True)).wait()
    assert notice.probe_refused is True and notice.acknowledged
    probe, real = merchant.received
    assert isinstance(probe.verified, Exception)
    result = real.verified
    assert result["out_trade_no"] == no and result["total_fee"] == 5000
    assert result["result_code"] == "SUCCESS" and result["attach"] == "order-7"
    queried = await asyncio.to_thread(v2.order.query, out_trade_no=no)
    assert queried["trade_state"] == "SUCCESS"
    assert queried["transaction_id"] == result["transaction_id"]


async def test_hmac_payment_notice(v2: WeChatPay, merchant: Merchant, sim: WeChatSimulator) -> None:
    def verify(xml: str) -> dict[str, Any]:
        data = xmltodict.parse(xml)["xml"]
        sign = data.pop("sign")
        if sign != calculate_signature_hmac(data, v2.api_key):
            raise ValueError("bad sign")
        return data

    merchant.v2_verify = verify
    no = order_no()
    await unified(v2, merchant, no, sign_type="HMAC-SHA256")
    notice = await (await sim.pay(no)).wait()
    assert notice.acknowledged
    assert merchant.received[0].verified["sign_type"] == "HMAC-SHA256"


async def test_v2_notice_retried_until_success(
    v2: WeChatPay, merchant: Merchant, sim: WeChatSimulator
) -> None:
    merchant.v2_verify = v2.parse_payment_result
    no = order_no()
    await unified(v2, merchant, no)
    merchant.script = [500, 200]  # a 500, then a 200 whose XML says SUCCESS
    notice = await (await sim.pay(no)).wait()
    assert [a.status for a in notice.attempts] == [500, 200] and notice.acknowledged


async def test_refund_idempotent_bounded_and_notified(
    v2: WeChatPay, merchant: Merchant, sim: WeChatSimulator
) -> None:
    merchant.v2_verify = v2.parse_payment_result
    no = order_no()
    await unified(v2, merchant, no)
    await (await sim.pay(no)).wait()
    merchant.received.clear()
    merchant.v2_verify = v2.parse_refund_notify_result
    url = merchant.url("/notify/v2")
    first = await asyncio.to_thread(
        v2.refund.apply, 5000, 2000, "VR1-" + no, out_trade_no=no, notify_url=url
    )
    assert first["result_code"] == "SUCCESS" and first["refund_fee"] == "2000"
    again = await asyncio.to_thread(
        v2.refund.apply, 5000, 2000, "VR1-" + no, out_trade_no=no, notify_url=url
    )
    assert again["refund_id"] == first["refund_id"]
    with pytest.raises(WeChatPayException) as too_much:
        await asyncio.to_thread(v2.refund.apply, 5000, 3001, "VR2-" + no, out_trade_no=no)
    assert too_much.value.errcode == "ERROR"
    for _ in range(300):
        if merchant.received:
            break
        await asyncio.sleep(0.01)
    [got] = merchant.received
    info = got.verified
    assert info["out_refund_no"] == "VR1-" + no and info["refund_status"] == "SUCCESS"
    assert info["refund_fee"] == 2000 and info["total_fee"] == 5000
    queried = await asyncio.to_thread(v2.refund.query, out_refund_no="VR1-" + no)
    assert queried["refund_count"] == "1" and queried["refund_status_0"] == "SUCCESS"


async def test_refund_refused_with_wechat_error(
    v2: WeChatPay, merchant: Merchant, sim: WeChatSimulator
) -> None:
    no = order_no()
    await unified(v2, merchant, no)
    await (await sim.pay(no)).wait()
    sim.faults.add("/secapi/pay/refund", "refund_refused")
    with pytest.raises(WeChatPayException) as refused:
        await asyncio.to_thread(v2.refund.apply, 5000, 5000, "VR-" + no, out_trade_no=no)
    assert refused.value.errcode == "NOTENOUGH"
    assert not sim.ledger.refunds
    ok = await asyncio.to_thread(v2.refund.apply, 5000, 5000, "VR-" + no, out_trade_no=no)
    assert ok["result_code"] == "SUCCESS"


def test_request_xml_is_wechatpys(settings: dict[str, str]) -> None:
    """The v2 signature the simulator checks is the one wechatpy computes."""
    from sandbox.wechat.keys import v2_sign

    fields = {"appid": "wx1", "mch_id": "1", "nonce_str": "abc", "body": "票", "empty": ""}
    key = settings["WECHAT_V2_KEY"]
    assert v2_sign(fields, key) == calculate_signature(fields, key)
    assert v2_sign(fields, key, "HMAC-SHA256") == calculate_signature_hmac(fields, key)
    assert "<body><![CDATA[票]]></body>" in dict_to_xml(fields)


@pytest.mark.parametrize("who", ["nobody", "impostor"])
async def test_refund_without_the_merchant_certificate_fails_the_handshake(
    sim: WeChatSimulator,
    merchant: Merchant,
    make_v2: MakeClient,
    pki: Pki,
    who: str,
) -> None:
    """/secapi: no client certificate, or one not issued by WeChat's CA, and the TLS
    handshake is refused — the request never reaches the refund."""
    paid = make_v2(pki.merchant)
    no = order_no()
    await unified(paid, merchant, no)
    await (await sim.pay(no)).wait()
    bare = make_v2(None if who == "nobody" else pki.impostor)
    with pytest.raises(requests.exceptions.ConnectionError):
        await asyncio.to_thread(bare.refund.apply, 5000, 5000, "VR-" + no, out_trade_no=no)
    assert not sim.ledger.refunds
    ok = await asyncio.to_thread(paid.refund.apply, 5000, 5000, "VR-" + no, out_trade_no=no)
    assert ok["result_code"] == "SUCCESS" and sim.refund("VR-" + no).refund == 5000


async def test_refund_with_another_merchants_certificate_or_over_plain_http_is_refused(
    sim: WeChatSimulator,
    merchant: Merchant,
    make_v2: MakeClient,
    pki: Pki,
) -> None:
    paid = make_v2(pki.merchant)
    no = order_no()
    await unified(paid, merchant, no)
    await (await sim.pay(no)).wait()
    other = make_v2(pki.other_merchant)
    with pytest.raises(WeChatPayException) as mismatch:
        await asyncio.to_thread(other.refund.apply, 5000, 5000, "VR-" + no, out_trade_no=no)
    assert mismatch.value.return_code == "FAIL" and "证书与商户号不匹配" in str(mismatch.value)
    plain = make_v2(pki.merchant)
    plain.API_BASE_URL = f"{sim.base_url}/"
    with pytest.raises(WeChatPayException) as no_tls:
        await asyncio.to_thread(plain.refund.apply, 5000, 5000, "VR-" + no, out_trade_no=no)
    assert no_tls.value.return_code == "FAIL" and "证书" in str(no_tls.value)
    assert sim.v2.refused_certificates == 2 and not sim.ledger.refunds

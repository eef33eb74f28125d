"""WeChat Pay v2's XML: documents, signed answers and the notices WeChat posts.

Kept apart from the request handlers (`pay_v2`) because the notifier and the simulator's
control API build notices from here too.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from sandbox.wechat.config import WeChatSimConfig
from sandbox.wechat.keys import ecb_encrypt_req_info, random_str, v2_sign
from sandbox.wechat.ledger import Refund, Transaction, v2_time

V2_REFUND_STATUS = {
    "SUCCESS": "SUCCESS",
    "ABNORMAL": "CHANGE",
    "PROCESSING": "PROCESSING",
    "CLOSED": "REFUNDCLOSE",
}


def to_xml(fields: Mapping[str, Any], root: str = "xml") -> str:
    parts = [f"<{root}>"]
    for key, value in fields.items():
        if value is None:
            continue
        text = str(value)
        if isinstance(value, int) and not isinstance(value, bool):
            parts.append(f"<{key}>{text}</{key}>")
        else:
            parts.append(f"<{key}><![CDATA[{text.replace(']]>', ']]]]><![CDATA[>')}]]></{key}>")
    parts.append(f"</{root}>")
    return "".join(parts)


def parse_xml(raw: bytes) -> dict[str, str] | None:
    """A flat ``<xml>`` document as a dict, or None if it is not one (DTDs refused)."""
    if b"<!DOCTYPE" in raw.upper() or b"<!ENTITY" in raw.upper():
        return None
    try:
        root = ET.fromstring(raw)
    except ET.ParseError:
        return None
    if root.tag != "xml":
        return None
    return {child.tag: (child.text or "").strip() for child in root}


def signed_xml(fields: dict[str, Any], api_key: str, sign_type: str) -> str:
    fields = {k: v for k, v in fields.items() if v is not None}
    fields["sign"] = v2_sign({k: str(v) for k, v in fields.items()}, api_key, sign_type)
    return to_xml(fields)


def xml_response(text: str) -> web.Response:
    return web.Response(text=text, content_type="text/xml", charset="utf-8")


def v2_fault_answer(config: WeChatSimConfig, busy: bool) -> web.Response:
    code, des = ("SYSTEMERROR", "系统错误") if busy else ("FREQUENCY_LIMITED", "频率限制")
    fields = {
        "return_code": "SUCCESS",
        "return_msg": "OK",
        "appid": config.appid,
        "mch_id": config.mchid,
        "nonce_str": random_str(16),
        "result_code": "FAIL",
        "err_code": code,
        "err_code_des": des,
    }
    return xml_response(signed_xml(fields, config.v2_api_key, "MD5"))


def v2_pay_notice(config: WeChatSimConfig, txn: Transaction) -> tuple[str, str]:
    """(notice, probe): the payment result XML, and the same with a wrong ``sign``."""
    fields: dict[str, Any] = {
        "appid": txn.appid,
        "attach": txn.attach or None,
        "bank_type": "OTHERS",
        "cash_fee": txn.total,
        "fee_type": txn.currency,
        "is_subscribe": "N",
        "mch_id": txn.mchid,
        "nonce_str": random_str(32),
        "openid": txn.openid,
        "out_trade_no": txn.out_trade_no,
        "result_code": "SUCCESS",
        "return_code": "SUCCESS",
        "time_end": v2_time(txn.success_time or txn.created_at),
        "total_fee": txn.total,
        "trade_type": "JSAPI",
        "transaction_id": txn.transaction_id,
    }
    if txn.v2_sign_type != "MD5":
        fields["sign_type"] = txn.v2_sign_type
    notice = signed_xml(fields, config.v2_api_key, txn.v2_sign_type)
    probe = signed_xml(fields, config.v2_api_key[::-1], txn.v2_sign_type)
    return notice, probe


def v2_refund_notice(config: WeChatSimConfig, refund: Refund) -> tuple[str, str]:
    """(notice, probe): ``req_info`` sealed with md5(API key), and sealed with a wrong key."""
    info = {
        "out_refund_no": refund.out_refund_no,
        "out_trade_no": refund.out_trade_no,
        "refund_account": "REFUND_SOURCE_RECHARGE_FUNDS",
        "refund_fee": refund.refund,
        "refund_id": refund.refund_id,
        "refund_recv_accout": "支付用户零钱",
        "refund_request_source": "API",
        "refund_status": V2_REFUND_STATUS[refund.status],
        "settlement_refund_fee": refund.refund,
        "settlement_total_fee": refund.total,
        "success_time": refund_time(refund.success_time),
        "total_fee": refund.total,
        "transaction_id": refund.transaction_id,
    }
    plain = to_xml(info, root="root")

    def sealed(key: str) -> str:
        return to_xml(
            {
                "return_code": "SUCCESS",
                "appid": config.appid,
                "mch_id": config.mchid,
                "nonce_str": random_str(32),
                "req_info": ecb_encrypt_req_info(key, plain),
            }
        )

    return sealed(config.v2_api_key), sealed(config.v2_api_key[::-1])


def refund_time(ts: float | None) -> str | None:
    if ts is None:
        return None
    stamp = v2_time(ts)
    return f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]} {stamp[8:10]}:{stamp[10:12]}:{stamp[12:]}"

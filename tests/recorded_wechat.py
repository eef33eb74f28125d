"""Recorded WeChat Pay payment notifications (v3 and v2), for `tests.recorded_partners`.

WeChat's notifier of the sandbox (``sandbox/wechat/notify.py``, ``v2_xml.py``: the real
wire form — v3 JSON with the resource sealed by AES-256-GCM and the ``Wechatpay-*``
signature headers, v2 XML signed with the API key) builds each notice, on the fixed clock
``T0`` and with the fixed TEST keys of ``tests/wechat/recorded_merchant.json``, so a
replay on a hub at ``T0`` verifies the same signature and time window. Each scenario's hub
has one WeChat order waiting for its payment (placed through the channel's own services,
as the mini-program's ``POST /api/wechat/orders`` does, without WeChat's prepay call):

- v3 (``plugins/channel_wechat/fixtures``): the notice (204), WeChat delivering it again
  (204, the order confirmed once), the notice with a signature over other bytes (401);
- v2 (``plugins/channel_wechat/fixtures/v2``): the same with the XML ``SUCCESS`` answers
  and a notice signed with another key (``FAIL``).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from functools import cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest import mock

from aiohttp import web
from aiohttp.test_utils import TestClient
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from hub.clock import FixedClock
from hub.sdk import Order, OrderLine, OrderRequest
from hub.testing.recorded import RecordingHttp
from sandbox.wechat import notify
from sandbox.wechat.config import WeChatSimConfig
from sandbox.wechat.keys import hub_settings
from sandbox.wechat.ledger import Transaction
from sandbox.wechat.v2_xml import parse_xml, v2_pay_notice
from tests.support import T0, TOMORROW, hub_client, hub_of, seed

AiohttpClient = Callable[[web.Application], Awaitable[TestClient]]
KEYS = Path(__file__).resolve().parent / "wechat" / "recorded_merchant.json"
OUT_TRADE_NO = "TH0000000000000000000000000001"
OPENID = "oRecordedVisitor0000000000001"
TRANSACTION_ID = "4200000001202611220000000001"
SLOT = "09:00-11:00"


@cache
def merchant() -> tuple[WeChatSimConfig, str]:
    """The fixed test merchant: WeChat's side (config) and the merchant's private key."""
    doc = json.loads(KEYS.read_text(encoding="utf-8"))
    return WeChatSimConfig(**doc["config"]), str(doc["merchant_private_key_pem"])


def hub_of_version(version: str) -> Callable[[AiohttpClient, str], Any]:
    @asynccontextmanager
    async def wechat_hub(aiohttp_client: AiohttpClient, db_url: str) -> AsyncIterator[TestClient]:
        config, private = merchant()
        channel_settings = hub_settings(
            config,
            private,
            base_url="http://127.0.0.1:9",  # never called: the notices come to the hub
            notify_base="http://127.0.0.1:9",
            pay_version=version,
        )
        client = await hub_client(
            aiohttp_client,
            db_url,
            clock=FixedClock(T0),
            channel_settings={"wechat": channel_settings},
        )
        await seed(client)
        channel: Any = hub_of(client).plugins.channels.get("wechat")
        placed = await channel.orders.place(
            OrderRequest(
                channel="wechat",
                partner_order_id=OUT_TRADE_NO,
                lines=(OrderLine(product_id="adult", quantity=1),),
                travel_date=TOMORROW,
                slot=SLOT,
            )
        )
        assert placed.ok, placed
        order = Order.model_validate(placed.body["order"])
        await channel.trades.put(
            OUT_TRADE_NO,
            {
                "out_trade_no": OUT_TRADE_NO,
                "order_id": order.id,
                "openid": OPENID,
                "amount": order.amount,
                "description": f"adult {TOMORROW.isoformat()} x1",
                "created": T0.strftime("%Y%m%d%H%M%S%f"),
            },
        )
        yield client

    return wechat_hub


def _paid(api: str) -> Transaction:
    config, _ = merchant()
    return Transaction(
        api=api,
        appid=config.appid,
        mchid=config.mchid,
        out_trade_no=OUT_TRADE_NO,
        description="adult",
        notify_url="",
        total=10000,  # the seeded adult ticket's price
        openid=OPENID,
        prepay_id="wx22100000000000000000000000000001",
        created_at=T0.timestamp(),
        fingerprint=(),
        state="SUCCESS",
        transaction_id=TRANSACTION_ID,
        success_time=T0.timestamp(),
    )


async def v3_play(http: RecordingHttp) -> None:
    config, _ = merchant()
    sender = notify.Notifier(config)
    with mock.patch.object(notify, "time", SimpleNamespace(time=T0.timestamp)):
        _, body = sender.v3_body(
            "TRANSACTION.SUCCESS", "支付成功", "transaction", _paid("v3").v3_resource()
        )
        signed = sender.signed_headers(body)
        forged = sender.signed_headers(body, forged=True)
    for operation, headers in (
        ("pay_notify_v3", signed),
        ("pay_notify_v3_again", signed),
        ("pay_notify_v3_forged_signature", forged),
    ):
        http.operation = operation
        await http.post(
            "/api/wechat/notify/v3/pay",
            data=body.encode("utf-8"),
            headers={"Content-Type": "application/json", **headers},
        )


async def v2_play(http: RecordingHttp) -> None:
    config, _ = merchant()
    body, wrong_key = v2_pay_notice(config, _paid("v2"))
    for operation, xml in (
        ("pay_notify_v2", body),
        ("pay_notify_v2_again", body),
        ("pay_notify_v2_wrong_sign", wrong_key),
    ):
        http.operation = operation
        await http.post(
            "/api/wechat/notify/v2/pay",
            data=xml.encode("utf-8"),
            headers={"Content-Type": "text/xml"},
        )


def v3_decode(raw: bytes, headers: Mapping[str, str]) -> Any:
    """A v3 notice with its resource opened (the APIv3 key), or the hub's JSON answer
    (None for the empty 204)."""
    if not raw.strip():
        return None
    doc = json.loads(raw)
    resource = doc.get("resource") if isinstance(doc, dict) else None
    if isinstance(resource, dict) and "ciphertext" in resource:
        import base64

        config, _ = merchant()
        plain = AESGCM(config.apiv3_key.encode()).decrypt(
            resource["nonce"].encode(),
            base64.b64decode(resource["ciphertext"]),
            resource.get("associated_data", "").encode(),
        )
        doc["resource"] = {**resource, "ciphertext": json.loads(plain)}
    return doc


def v3_code(doc: Any) -> Any:
    """``FAIL`` of a refusal; None for the 204 that acknowledges a notice."""
    return doc.get("code") if isinstance(doc, dict) else None


def v2_decode(raw: bytes, headers: Mapping[str, str]) -> Any:
    return parse_xml(raw)


def v2_code(doc: Any) -> Any:
    return doc.get("return_code") if isinstance(doc, dict) else None

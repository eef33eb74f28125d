"""WeChat Pay API v2 (legacy merchants) over the hub's aiohttp session: signed XML
requests, answers believed only when their own signature checks."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import aiohttp

from plugins.channel_wechat import signing_v2, signing_v3
from plugins.channel_wechat.config import WeChatConfig
from plugins.channel_wechat.pay_api import (
    PayError,
    Prepay,
    RefundRequest,
    network_error,
    unpack_bill,
)

_RETRYABLE = {"SYSTEMERROR", "BIZERR_NEED_RETRY", "FREQUENCY_LIMITED", "NOTENOUGH"}
_CLOSE_OK = {"ORDERCLOSED", "ORDERNOTEXIST", "ORDERPAID"}


class PayV2:
    def __init__(
        self,
        config: WeChatConfig,
        http: Callable[[], aiohttp.ClientSession],
        now: Callable[[], float],
    ) -> None:
        self.config = config
        self._http = http
        self._now = now

    async def call(self, path: str, params: dict[str, str]) -> dict[str, str]:
        cfg = self.config
        secapi = path.startswith("/secapi/")
        if secapi and not cfg.client_cert:
            # WeChat would refuse the TLS handshake; say why, and let the outbox keep
            # the call until the certificate is configured (then a restart delivers it).
            raise PayError(
                "NO_CLIENT_CERT",
                f"{path} needs the merchant's API certificate: set WECHAT_CLIENT_CERT and"
                " WECHAT_CLIENT_KEY, or WECHAT_CLIENT_P12",
                retryable=True,
            )
        body = {"appid": cfg.appid, "mch_id": cfg.mchid, "nonce_str": signing_v3.nonce(), **params}
        xml = signing_v2.to_xml(body, cfg.v2_key, cfg.v2_sign_type)
        # The hub's shared session stays certificate-free: the merchant's TLS context
        # (its certificate, the configured CAs) is given per request.
        extra = {"ssl": cfg.pay_ssl} if cfg.pay_ssl is not None else {}
        try:
            async with self._http().post(
                ((cfg.secapi_base or cfg.pay_base) if secapi else cfg.pay_base) + path,
                data=xml.encode("utf-8"),
                headers={"Content-Type": "text/xml; charset=utf-8"},
                **extra,  # type: ignore[arg-type]
            ) as resp:
                raw, status = await resp.read(), resp.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise PayError(*network_error(exc), retryable=True) from None
        if status >= 500:
            raise PayError(f"HTTP_{status}", "", retryable=True)
        try:
            doc = signing_v2.parse_xml(raw)
        except ValueError as exc:
            raise PayError("BAD_ANSWER", str(exc), retryable=True) from None
        if doc.get("return_code") != "SUCCESS":
            raise PayError("FAIL", doc.get("return_msg", "")[:200], retryable=True)
        try:
            signing_v2.check(doc, cfg.v2_key, cfg.v2_sign_type)
        except signing_v3.Unverified as exc:
            raise PayError("UNVERIFIED_ANSWER", exc.reason, retryable=True) from None
        if doc.get("result_code") != "SUCCESS":
            code = doc.get("err_code", "FAIL")
            raise PayError(code, doc.get("err_code_des", "")[:200], retryable=code in _RETRYABLE)
        return doc

    async def download_bill(self, params: dict[str, str]) -> bytes:
        """``/pay/downloadbill``: the bill itself (CSV, or gzip with ``tar_type``) — not
        signed — or an XML error document, raised as PayError with WeChat's message."""
        cfg = self.config
        body = {"appid": cfg.appid, "mch_id": cfg.mchid, "nonce_str": signing_v3.nonce(), **params}
        xml = signing_v2.to_xml(body, cfg.v2_key, cfg.v2_sign_type)
        extra = {"ssl": cfg.pay_ssl} if cfg.pay_ssl is not None else {}
        try:
            async with self._http().post(
                cfg.pay_base + "/pay/downloadbill",
                data=xml.encode("utf-8"),
                headers={"Content-Type": "text/xml; charset=utf-8"},
                **extra,  # type: ignore[arg-type]
            ) as resp:
                raw, status = await resp.read(), resp.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise PayError(*network_error(exc), retryable=True) from None
        if status >= 500:
            raise PayError(f"HTTP_{status}", "", retryable=True)
        if raw.lstrip()[:4] == b"<xml":
            try:
                doc = signing_v2.parse_xml(raw)
            except ValueError as exc:
                raise PayError("BAD_ANSWER", str(exc), retryable=True) from None
            msg = doc.get("return_msg", "") or doc.get("err_code_des", "")
            code = doc.get("error_code", "") or doc.get("err_code", "") or "FAIL"
            raise PayError(code, msg[:200], retryable=code in _RETRYABLE)
        if status != 200:
            raise PayError(f"HTTP_{status}", raw[:200].decode("utf-8", "replace"))
        return raw

    async def trade_bill(self, day: date) -> bytes:
        return unpack_bill(
            await self.download_bill(
                {"bill_date": day.strftime("%Y%m%d"), "bill_type": "ALL", "tar_type": "GZIP"}
            )
        )

    async def prepay(self, order: Prepay) -> dict[str, str]:
        cfg = self.config
        doc = await self.call(
            "/pay/unifiedorder",
            {
                "body": order.description[:127],
                "out_trade_no": order.out_trade_no,
                "total_fee": str(order.total),
                "spbill_create_ip": "127.0.0.1",
                "notify_url": cfg.notify_url("pay"),
                "trade_type": "JSAPI",
                "openid": order.openid,
            },
        )
        prepay_id = doc.get("prepay_id")
        if not prepay_id:
            raise PayError("BAD_ANSWER", "no prepay_id", retryable=True)
        return signing_v2.request_payment(
            appid=cfg.appid,
            prepay_id=prepay_id,
            timestamp=int(self._now()),
            nonce_str=signing_v3.nonce(),
            key=cfg.v2_key,
            sign_type=cfg.v2_sign_type,
        )

    async def query(self, out_trade_no: str) -> dict[str, str]:
        doc = await self.call("/pay/orderquery", {"out_trade_no": out_trade_no})
        return {
            "appid": doc.get("appid", ""),
            "mchid": doc.get("mch_id", ""),
            "out_trade_no": doc.get("out_trade_no", out_trade_no),
            "trade_state": doc.get("trade_state", ""),
            "transaction_id": doc.get("transaction_id", ""),
            "total": doc.get("total_fee", ""),
            "openid": doc.get("openid", ""),
        }

    async def close(self, out_trade_no: str) -> None:
        try:
            await self.call("/pay/closeorder", {"out_trade_no": out_trade_no})
        except PayError as exc:
            if exc.code not in _CLOSE_OK:
                raise

    async def refund(self, request: RefundRequest) -> str:
        await self.call(
            "/secapi/pay/refund",
            {
                "out_trade_no": request.out_trade_no,
                "out_refund_no": request.out_refund_no,
                "total_fee": str(request.total),
                "refund_fee": str(request.refund),
                "refund_desc": request.reason[:80],
                "notify_url": self.config.notify_url("refund"),
            },
        )
        return "PROCESSING"

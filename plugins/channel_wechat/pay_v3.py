"""WeChat Pay API v3 over the hub's aiohttp session: every request signed with the
merchant key, every answer's signature verified with WeChat Pay's public key before it is
believed (an unverified "SUCCESS" is treated like no answer)."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import date
from typing import Any

import aiohttp
from multidict import CIMultiDict
from yarl import URL

from plugins.channel_wechat import signing_v3
from plugins.channel_wechat.config import WeChatConfig
from plugins.channel_wechat.pay_api import (
    PayError,
    Prepay,
    RefundRequest,
    network_error,
    unpack_bill,
)

# WeChat's codes that mean "try again later" rather than "no".
_RETRYABLE = {"SYSTEM_ERROR", "SYSTEMERROR", "FREQUENCY_LIMITED", "BANK_ERROR", "NOT_ENOUGH"}
# Closing is done when there is nothing left to close: already closed, never created,
# or paid meanwhile (that payment's notification takes the late-payment path).
_HASHES = {"SHA1": "sha1", "SHA256": "sha256", "SM3": "sm3"}
_CLOSE_OK = {"ORDER_CLOSED", "ORDERCLOSED", "ORDERNOTEXIST", "ORDER_NOT_EXIST", "ORDERPAID"}


class PayV3:
    def __init__(
        self,
        config: WeChatConfig,
        http: Callable[[], aiohttp.ClientSession],
        now: Callable[[], float],
    ) -> None:
        assert config.mch_private_key is not None and config.pay_public_key is not None
        self.config = config
        self._http = http
        self._now = now

    async def call(
        self, method: str, path: str, body: dict[str, Any] | None = None
    ) -> tuple[int, dict[str, Any]]:
        cfg = self.config
        assert cfg.mch_private_key is not None and cfg.pay_public_key is not None
        text = json.dumps(body, ensure_ascii=False, separators=(",", ":")) if body else ""
        headers = {
            "Authorization": self._authorization(method, path, text),
            "Accept": "application/json",
            "Content-Type": "application/json",
            "User-Agent": "tickethub-wechat/0.1",
        }
        extra = {"ssl": cfg.pay_ssl} if cfg.pay_ssl is not None else {}
        try:
            async with self._http().request(
                method,
                cfg.pay_base + path,
                data=text.encode() if text else None,
                headers=headers,
                **extra,  # type: ignore[arg-type]
            ) as resp:
                raw = (await resp.read()).decode("utf-8", "replace")
                status, got = resp.status, CIMultiDict(resp.headers)  # names: any case
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise PayError(*network_error(exc), retryable=True) from None
        if status >= 500:
            raise PayError(f"HTTP_{status}", raw[:200], retryable=True)
        try:
            signing_v3.check_signed(
                got,
                raw,
                key=cfg.pay_public_key,
                key_id=cfg.pay_public_key_id,
                now=self._now(),
            )
        except signing_v3.Unverified as exc:
            raise PayError("UNVERIFIED_ANSWER", exc.reason, retryable=True) from None
        try:
            doc = json.loads(raw) if raw else {}
        except ValueError:
            raise PayError("BAD_ANSWER", "answer is not JSON", retryable=True) from None
        if not isinstance(doc, dict):
            raise PayError("BAD_ANSWER", "answer is not an object", retryable=True)
        if status >= 400:
            code = str(doc.get("code", f"HTTP_{status}"))
            raise PayError(code, str(doc.get("message", ""))[:200], retryable=code in _RETRYABLE)
        return status, doc

    def _authorization(self, method: str, path: str, body: str) -> str:
        cfg = self.config
        assert cfg.mch_private_key is not None
        return signing_v3.authorization(
            cfg.mch_private_key,
            mchid=cfg.mchid,
            serial=cfg.mch_serial,
            method=method,
            url=path,
            body=body,
            timestamp=int(self._now()),
            nonce_str=signing_v3.nonce(),
        )

    async def download(self, url: str, *, max_bytes: int = 256 << 20) -> bytes:
        """A signed GET of a file WeChat named (a bill's ``download_url``). The answer is
        a file, not signed: the caller checks it against the hash of the signed answer
        that gave the URL."""
        parsed = URL(url)
        headers = {
            "Authorization": self._authorization("GET", parsed.raw_path_qs, ""),
            "User-Agent": "tickethub-wechat/0.1",
        }
        extra = {"ssl": self.config.pay_ssl} if self.config.pay_ssl is not None else {}
        try:
            async with self._http().get(
                url,
                headers=headers,
                **extra,  # type: ignore[arg-type]
            ) as resp:
                if resp.status != 200:
                    raw = (await resp.read())[:400].decode("utf-8", "replace")
                    code = _code_of(raw) or f"HTTP_{resp.status}"
                    raise PayError(code, raw[:200], retryable=resp.status >= 500)
                if (resp.content_length or 0) > max_bytes:
                    raise PayError("TOO_LARGE", f"{resp.content_length} bytes", retryable=False)
                return await resp.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise PayError(*network_error(exc), retryable=True) from None

    async def trade_bill(self, day: date) -> bytes:
        """``GET /v3/bill/tradebill`` (signed answer: URL and hash), then the signed
        download of the gzip'd file; the unpacked bill must have the announced hash."""
        _, doc = await self.call(
            "GET", f"/v3/bill/tradebill?bill_date={day.isoformat()}&bill_type=ALL&tar_type=GZIP"
        )
        url, hash_type = str(doc.get("download_url", "")), str(doc.get("hash_type", ""))
        if not url.startswith(("https://", "http://")) or hash_type.upper() not in _HASHES:
            raise PayError("BAD_ANSWER", "no download_url or an unknown hash_type", retryable=True)
        bill = unpack_bill(await self.download(url))
        digest = hashlib.new(_HASHES[hash_type.upper()], bill).hexdigest()
        if not hmac.compare_digest(digest, str(doc.get("hash_value", "")).lower()):
            raise PayError(
                "HASH_MISMATCH", f"the bill's {hash_type} is not the announced one", retryable=True
            )
        return bill

    async def prepay(self, order: Prepay) -> dict[str, str]:
        cfg = self.config
        assert cfg.mch_private_key is not None
        _, doc = await self.call(
            "POST",
            "/v3/pay/transactions/jsapi",
            {
                "appid": cfg.appid,
                "mchid": cfg.mchid,
                "description": order.description[:127],
                "out_trade_no": order.out_trade_no,
                "notify_url": cfg.notify_url("pay"),
                "amount": {"total": order.total, "currency": "CNY"},
                "payer": {"openid": order.openid},
            },
        )
        prepay_id = doc.get("prepay_id")
        if not isinstance(prepay_id, str) or not prepay_id:
            raise PayError("BAD_ANSWER", "no prepay_id", retryable=True)
        return signing_v3.request_payment(
            cfg.mch_private_key,
            appid=cfg.appid,
            prepay_id=prepay_id,
            timestamp=int(self._now()),
            nonce_str=signing_v3.nonce(),
        )

    async def query(self, out_trade_no: str) -> dict[str, str]:
        _, doc = await self.call(
            "GET", f"/v3/pay/transactions/out-trade-no/{out_trade_no}?mchid={self.config.mchid}"
        )
        amount = doc.get("amount") if isinstance(doc.get("amount"), dict) else {}
        payer = doc.get("payer") if isinstance(doc.get("payer"), dict) else {}
        return {
            "appid": str(doc.get("appid", "")),
            "mchid": str(doc.get("mchid", "")),
            "out_trade_no": str(doc.get("out_trade_no", "")),
            "trade_state": str(doc.get("trade_state", "")),
            "transaction_id": str(doc.get("transaction_id", "")),
            "total": str(amount.get("total", "")),  # type: ignore[union-attr]
            "openid": str(payer.get("openid", "")),  # type: ignore[union-attr]
        }

    async def close(self, out_trade_no: str) -> None:
        try:
            await self.call(
                "POST",
                f"/v3/pay/transactions/out-trade-no/{out_trade_no}/close",
                {"mchid": self.config.mchid},
            )
        except PayError as exc:
            if exc.code not in _CLOSE_OK:
                raise

    async def refund(self, request: RefundRequest) -> str:
        _, doc = await self.call(
            "POST",
            "/v3/refund/domestic/refunds",
            {
                "out_trade_no": request.out_trade_no,
                "out_refund_no": request.out_refund_no,
                "reason": request.reason[:80],
                "notify_url": self.config.notify_url("refund"),
                "amount": {"refund": request.refund, "total": request.total, "currency": "CNY"},
            },
        )
        return str(doc.get("status", "PROCESSING"))


def _code_of(raw: str) -> str:
    try:
        doc = json.loads(raw)
    except ValueError:
        return ""
    return str(doc.get("code", "")) if isinstance(doc, dict) else ""

"""WeChat Pay's notifications: payment and refund results, v3 (JSON) and v2 (XML).

Each is verified completely BEFORE anything is written (signature, key serial, time
window, decryption, merchant, app, amount, a known ``out_trade_no``); a refusal answers in
WeChat's form — v3 ``{"code": "FAIL", "message": …}`` with a non-2xx status, v2 the
``FAIL`` XML — and logs one line without personal data. A payment is applied through the
order service under the key ``wechat/paid/<out_trade_no>``: however often and however
concurrently WeChat delivers it, the order is confirmed (or refunded) once and every
delivery gets the same 204 / SUCCESS.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

from hub.sdk import Order
from hub.sdk.web import partner_body
from plugins.channel_wechat import events, signing_v2, signing_v3
from plugins.channel_wechat.signing_v3 import Unverified

if TYPE_CHECKING:
    from hub.sdk.web import ApiRoutes
    from plugins.channel_wechat.channel import WeChatChannel

log = logging.getLogger(__name__)

MAX_NOTIFY_BYTES = 64 * 1024  # real notifications are ~1 KB


class Refused(Exception):
    """Answer WeChat with a failure; `status` is the HTTP status of a v3 answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True, slots=True)
class Payment:
    """A verified "this order was paid" from either API version."""

    appid: str
    mchid: str
    out_trade_no: str
    transaction_id: str
    total: int
    openid: str
    success: bool


@dataclass(frozen=True, slots=True)
class RefundResult:
    mchid: str
    out_trade_no: str
    out_refund_no: str
    status: str  # SUCCESS | CLOSED | ABNORMAL | CHANGE …


async def _read(request: web.Request) -> bytes:
    if request.content_length is not None and request.content_length > MAX_NOTIFY_BYTES:
        raise Refused(413, "body too large")
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise Refused(413, "body too large") from None
    if len(raw) > MAX_NOTIFY_BYTES:
        raise Refused(413, "body too large")
    return raw


class Notifications:
    def __init__(self, channel: WeChatChannel) -> None:
        self.channel = channel

    # -- v3 ------------------------------------------------------------------------------
    async def v3(self, request: web.Request, kind: str) -> web.Response:
        try:
            raw = await _read(request)
            doc = self._v3_open(request, raw)
            if kind == "pay":
                await self.apply_payment(self._v3_payment(doc))
            else:
                await self.apply_refund(self._v3_refund(doc))
        except Refused as exc:
            self._log_refusal("v3", kind, request, exc.message)
            return web.json_response({"code": "FAIL", "message": exc.message}, status=exc.status)
        except Exception:
            # Our fault, not WeChat's: answer in its form; it will deliver the notice again.
            log.exception("wechat v3 %s notification failed", kind)
            return web.json_response({"code": "FAIL", "message": "internal error"}, status=500)
        return web.Response(status=204)

    def _v3_open(self, request: web.Request, raw: bytes) -> dict[str, Any]:
        cfg = self.channel.config
        if cfg is None or not cfg.v3:
            raise Refused(503, "WeChat Pay v3 is not configured")
        assert cfg.pay_public_key is not None
        try:
            body = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise Refused(400, "body is not UTF-8") from None
        try:
            signing_v3.check_signed(
                request.headers,
                body,
                key=cfg.pay_public_key,
                key_id=cfg.pay_public_key_id,
                now=self.channel.now(),
            )
        except Unverified as exc:
            raise Refused(401, exc.reason) from None
        try:
            doc = json.loads(body)
        except ValueError:
            raise Refused(400, "body is not JSON") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("resource"), dict):
            raise Refused(400, "no resource")
        try:
            resource = signing_v3.decrypt_resource(cfg.apiv3_key, doc["resource"])
        except Unverified as exc:
            raise Refused(400, exc.reason) from None
        return {"event_type": str(doc.get("event_type", "")), **resource}

    @staticmethod
    def _v3_payment(doc: dict[str, Any]) -> Payment:
        amount = doc.get("amount") if isinstance(doc.get("amount"), dict) else {}
        payer = doc.get("payer") if isinstance(doc.get("payer"), dict) else {}
        try:
            total = int(amount.get("total"))  # type: ignore[union-attr, arg-type]
        except (TypeError, ValueError):
            raise Refused(400, "amount.total missing") from None
        return Payment(
            appid=str(doc.get("appid", "")),
            mchid=str(doc.get("mchid", "")),
            out_trade_no=str(doc.get("out_trade_no", "")),
            transaction_id=str(doc.get("transaction_id", "")),
            total=total,
            openid=str(payer.get("openid", "")),  # type: ignore[union-attr]
            success=doc.get("trade_state") == "SUCCESS"
            and doc.get("event_type") == "TRANSACTION.SUCCESS",
        )

    @staticmethod
    def _v3_refund(doc: dict[str, Any]) -> RefundResult:
        return RefundResult(
            mchid=str(doc.get("mchid", "")),
            out_trade_no=str(doc.get("out_trade_no", "")),
            out_refund_no=str(doc.get("out_refund_no", "")),
            status=str(doc.get("refund_status", "")),
        )

    # -- v2 ------------------------------------------------------------------------------
    async def v2(self, request: web.Request, kind: str) -> web.Response:
        try:
            raw = await _read(request)
            params = self._v2_open(raw)
            if kind == "pay":
                await self.apply_payment(self._v2_payment(params))
            else:
                await self.apply_refund(self._v2_refund(params))
        except Refused as exc:
            self._log_refusal("v2", kind, request, exc.message)
            return web.Response(
                text=signing_v2.answer(False, exc.message),
                status=exc.status,
                content_type="text/xml",
            )
        except Exception:
            log.exception("wechat v2 %s notification failed", kind)
            return web.Response(
                text=signing_v2.answer(False, "internal error"), status=500, content_type="text/xml"
            )
        return web.Response(text=signing_v2.answer(True), content_type="text/xml")

    def _v2_open(self, raw: bytes) -> dict[str, str]:
        cfg = self.channel.config
        if cfg is None or cfg.v3:
            raise Refused(503, "WeChat Pay v2 is not configured")
        try:
            return signing_v2.parse_xml(raw)
        except ValueError as exc:
            raise Refused(400, str(exc)) from None

    def _v2_payment(self, params: dict[str, str]) -> Payment:
        cfg = self.channel.config
        assert cfg is not None
        try:
            signing_v2.check(params, cfg.v2_key, cfg.v2_sign_type)
        except Unverified as exc:
            raise Refused(401, exc.reason) from None
        try:
            total = int(params.get("total_fee", ""))
        except ValueError:
            raise Refused(400, "total_fee missing") from None
        return Payment(
            appid=params.get("appid", ""),
            mchid=params.get("mch_id", ""),
            out_trade_no=params.get("out_trade_no", ""),
            transaction_id=params.get("transaction_id", ""),
            total=total,
            openid=params.get("openid", ""),
            success=params.get("return_code") == "SUCCESS"
            and params.get("result_code") == "SUCCESS",
        )

    def _v2_refund(self, params: dict[str, str]) -> RefundResult:
        """v2 refund notices are not signed: ``req_info`` is encrypted with a key only
        WeChat and the merchant hold, which is what authenticates them."""
        cfg = self.channel.config
        assert cfg is not None
        if params.get("return_code") != "SUCCESS":
            raise Refused(400, "return_code is not SUCCESS")
        try:
            info = signing_v2.decrypt_refund(params, cfg.v2_key, cfg.appid, cfg.mchid)
        except Unverified as exc:
            raise Refused(401, exc.reason) from None
        return RefundResult(
            mchid=params.get("mch_id", ""),
            out_trade_no=info.get("out_trade_no", ""),
            out_refund_no=info.get("out_refund_no", ""),
            status=info.get("refund_status", ""),
        )

    # -- a lost notice ------------------------------------------------------------------
    async def reconcile(self, out_trade_no: str) -> bool:
        """Ask WeChat (order query, a signed and verified answer) whether a held order was
        paid, and if so apply the payment exactly as its notice would have: the notice
        may be lost or late, the visitor is looking at the order now. True if applied."""
        pay = self.channel.pay
        if pay is None:
            return False
        doc = await pay.query(out_trade_no)
        if doc.get("trade_state") != "SUCCESS":
            return False
        try:
            total = int(doc.get("total") or "")
        except ValueError:
            return False
        await self.apply_payment(
            Payment(
                appid=doc.get("appid", ""),
                mchid=doc.get("mchid", ""),
                out_trade_no=doc.get("out_trade_no") or out_trade_no,
                transaction_id=doc.get("transaction_id", ""),
                total=total,
                openid=doc.get("openid", ""),
                success=True,
            )
        )
        return True

    # -- applying ------------------------------------------------------------------------
    async def apply_payment(self, pay: Payment) -> None:
        cfg = self.channel.config
        assert cfg is not None
        if pay.mchid != cfg.mchid or pay.appid != cfg.appid:
            raise Refused(400, "merchant or app does not match")
        if not pay.out_trade_no or not pay.transaction_id:
            raise Refused(400, "out_trade_no / transaction_id missing")
        trade = await self.channel.trades.get(pay.out_trade_no)
        if trade is None:
            raise Refused(404, f"unknown out_trade_no {pay.out_trade_no[:40]}")
        if pay.total != int(trade["amount"]):
            raise Refused(400, f"amount {pay.total} is not the order's {trade['amount']}")
        if pay.openid and pay.openid != trade["openid"]:
            raise Refused(400, "payer is not the visitor who ordered")
        if not pay.success:
            return  # a failed payment changes nothing; the hold runs out on its own
        order: Order | None = await self.channel.orders.get(str(trade["order_id"]))
        if order is None:
            raise Refused(404, "order not found")
        first = await self.channel.trades.note_payment(
            pay.transaction_id,
            {"out_trade_no": pay.out_trade_no, "total": pay.total, "order_id": order.id},
        )
        outcome = await self.channel.orders.confirm_paid(
            order.id,
            key=f"wechat\x1fpaid\x1f{pay.out_trade_no}",
            if_gone=events.late_payment_remedy(order, pay.total),
            transaction_id=pay.transaction_id,
        )
        if outcome.ok:
            log.info(
                "wechat payment %s applied (%s)",
                pay.out_trade_no,
                "replay" if outcome.replay or not first else "first",
            )
            return
        if outcome.code in ("HOLD_EXPIRED", "INVALID_STATE"):
            if not outcome.replay:
                log.warning(
                    "wechat payment %s cannot confirm its %s order: refund queued",
                    pay.out_trade_no,
                    order.state.value,
                )
            return
        # IN_PROGRESS and the unexpected: not acknowledged, WeChat will deliver it again.
        log.error("wechat payment %s not applied: %s", pay.out_trade_no, outcome.body)
        raise Refused(500, "payment not applied yet; retry")

    async def apply_refund(self, result: RefundResult) -> None:
        cfg = self.channel.config
        assert cfg is not None
        if result.mchid != cfg.mchid:
            raise Refused(400, "merchant does not match")
        trades = self.channel.trades
        record = await trades.refund(result.out_trade_no, result.out_refund_no)
        if record is None:
            raise Refused(404, f"unknown out_refund_no {result.out_refund_no[:40]}")
        if record.get("status") != result.status:
            await trades.set_refund(
                result.out_trade_no, result.out_refund_no, {**record, "status": result.status}
            )
        log.info("wechat refund %s is %s", result.out_refund_no, result.status)
        if result.status in ("ABNORMAL", "CLOSED") and record.get("status") != result.status:
            # the money did not go back (a closed card, a refund WeChat closed): once per
            # refund, however often WeChat repeats the notice
            await self.channel.payment_failed("refund", result.status, result.out_refund_no)

    def _log_refusal(self, version: str, kind: str, request: web.Request, why: str) -> None:
        # The reason strings hold no personal data; the peer is WeChat's server address.
        log.warning(
            "wechat %s %s notification refused from %s: %s (serial=%s)",
            version,
            kind,
            request.remote,
            why,
            request.headers.get("Wechatpay-Serial", "-")[:64],
        )


def mount(channel: WeChatChannel, routes: ApiRoutes) -> Notifications:
    notes = Notifications(channel)
    for version in ("v3", "v2"):
        for kind in ("pay", "refund"):
            handler = notes.v3 if version == "v3" else notes.v2

            def make(h: Any, k: str) -> Any:
                async def endpoint(request: web.Request) -> web.Response:
                    return await h(request, k)

                return endpoint

            routes.post(
                f"/api/wechat/notify/{version}/{kind}",
                summary=f"WeChat Pay {version} {kind} notification (signed by WeChat)",
                tag="wechat",
                body=partner_body(
                    "WeChat Pay's v3 notice: JSON with an AES-GCM encrypted resource, signed "
                    "in the Wechatpay-* headers",
                    "application/json",
                )
                if version == "v3"
                else partner_body(
                    "WeChat Pay's v2 notice: XML signed with the merchant key",
                    "text/xml",
                    schema={"type": "string"},
                ),
                responses={
                    200 if version == "v2" else 204: "accepted (also for a duplicate)",
                    401: "bad or missing signature, wrong serial, stale timestamp",
                    404: "unknown out_trade_no / out_refund_no",
                },
            )(make(handler, kind))
    return notes

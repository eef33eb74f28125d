"""api.mch.weixin.qq.com ``/v3/…``: WeChat Pay API v3 in public-key mode.

Every request must carry ``Authorization: WECHATPAY2-SHA256-RSA2048 mchid=…,nonce_str=…,
signature=…,timestamp=…,serial_no=…`` signed with the merchant's key over
``METHOD\\nURL\\ntimestamp\\nnonce\\nbody\\n``; otherwise ``401 SIGN_ERROR``. Every answer —
errors included — is signed with the platform key, headers ``Wechatpay-Serial`` (the
public key id), ``-Signature``, ``-Timestamp``, ``-Nonce``, as WeChat does, so a client
that verifies answers (wechatpayv3 does) works against the simulator unchanged.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from sandbox.wechat import ledger as books
from sandbox.wechat.config import SIGNATURE_WINDOW, Clock, WeChatSimConfig
from sandbox.wechat.faults import Faults
from sandbox.wechat.keys import load_public, verify_lines
from sandbox.wechat.ledger import (
    Ledger,
    Refund,
    Refused,
    Transaction,
    new_prepay_id,
    new_refund_id,
)
from sandbox.wechat.notify import Notifier

OUT_NO = re.compile(r"^[0-9A-Za-z_\-|*@]{6,32}$")
AUTH_PARAM = re.compile(r'(\w+)="([^"]*)"')

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class PayError(Exception):
    """A WeChat v3 error answer: HTTP status, ``code`` and ``message``."""

    def __init__(self, status: int, code: str, message: str, detail: Any = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.detail = status, code, message, detail

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.detail is not None:
            body["detail"] = self.detail
        return body


WORDS = {
    books.PAID: (400, "ORDERPAID", "该订单已支付"),
    books.CLOSED: (400, "ORDER_CLOSED", "该订单已关闭"),
    books.DUPLICATE: (400, "INVALID_REQUEST", "201 商户订单号重复"),
    books.NO_TRADE: (404, "RESOURCE_NOT_EXISTS", "订单不存在"),
    books.UNPAID: (400, "INVALID_REQUEST", "订单未支付，不能发起退款"),
    books.TOTAL_DIFFERS: (400, "INVALID_REQUEST", "订单金额与原订单金额不一致"),
    books.TOO_MUCH: (400, "INVALID_REQUEST", "申请退款金额超过订单可退金额"),
    books.REFUND_DIFFERS: (400, "INVALID_REQUEST", "退款单号重复，请求参数与原退款不一致"),
}
"""The books' refusals (`sandbox.wechat.ledger.Refused`) as v3 says them."""


def param_error(field: str, message: str) -> PayError:
    return PayError(400, "PARAM_ERROR", message, {"field": field, "location": "body"})


class PayV3:
    def __init__(
        self,
        config: WeChatSimConfig,
        clock: Clock,
        ledger: Ledger,
        notifier: Notifier,
        faults: Faults,
        settle_refund: Callable[[Refund], None],
    ) -> None:
        self.config = config
        self.clock = clock
        self.ledger = ledger
        self.notifier = notifier
        self.faults = faults
        self.settle_refund = settle_refund
        self.merchant_key = load_public(config.merchant_public_key_pem)
        self.refused_requests = 0  # requests answered 401 SIGN_ERROR

    # --- envelope ------------------------------------------------------------------------

    def respond(self, status: int, body: dict[str, Any] | None) -> web.Response:
        text = "" if body is None else json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        headers = self.notifier.signed_headers(text)
        if body is None:
            return web.Response(status=status, headers=headers)
        return web.Response(
            status=status, text=text, content_type="application/json", headers=headers
        )

    def verify(self, request: web.Request, body: str) -> None:
        """Check the merchant's Authorization header, or raise 401 SIGN_ERROR."""
        header = request.headers.get("Authorization", "")
        scheme, _, rest = header.partition(" ")
        if scheme != "WECHATPAY2-SHA256-RSA2048":
            raise PayError(401, "SIGN_ERROR", "Authorization 不合法: 缺少或错误的认证类型")
        params = dict(AUTH_PARAM.findall(rest))
        missing = [
            k
            for k in ("mchid", "nonce_str", "signature", "timestamp", "serial_no")
            if not params.get(k)
        ]
        if missing:
            raise PayError(401, "SIGN_ERROR", f"Authorization 不合法: 缺少 {missing[0]}")
        if params["mchid"] != self.config.mchid:
            raise PayError(401, "SIGN_ERROR", "商户号与签名信息不匹配")
        if params["serial_no"] != self.config.merchant_serial:
            raise PayError(401, "SIGN_ERROR", "商户证书序列号有误")
        try:
            skew = abs(time.time() - int(params["timestamp"]))
        except ValueError:
            skew = float("inf")
        if skew > SIGNATURE_WINDOW:
            raise PayError(401, "SIGN_ERROR", "签名时间戳已过期")
        if not verify_lines(
            self.merchant_key,
            params["signature"],
            request.method,
            request.raw_path,
            params["timestamp"],
            params["nonce_str"],
            body,
        ):
            raise PayError(401, "SIGN_ERROR", "签名错误")

    def endpoint(
        self, handler: Callable[[web.Request, str], Awaitable[tuple[int, Any]]]
    ) -> Handler:
        """Wrap a handler: read the body, verify the merchant, sign the answer."""

        async def wrapped(request: web.Request) -> web.StreamResponse:
            body = (await request.read()).decode("utf-8", "replace")
            try:
                self.verify(request, body)
                status, answer = await handler(request, body)
            except PayError as exc:
                if exc.code == "SIGN_ERROR":
                    self.refused_requests += 1
                return self.respond(exc.status, exc.body())
            return self.respond(status, answer)

        return wrapped

    @staticmethod
    def json_body(body: str) -> dict[str, Any]:
        try:
            data = json.loads(body)
        except ValueError:
            raise PayError(400, "PARAM_ERROR", "请求体不是合法的JSON") from None
        if not isinstance(data, dict):
            raise PayError(400, "PARAM_ERROR", "请求体不是JSON对象")
        return data

    # --- transactions --------------------------------------------------------------------

    async def jsapi(self, request: web.Request, raw: str) -> tuple[int, Any]:
        data = self.json_body(raw)
        for name in ("appid", "mchid", "description", "out_trade_no", "notify_url"):
            if not isinstance(data.get(name), str) or not data[name]:
                raise param_error(name, f"输入源“/body/{name}”映射到值字段“{name}”字段必填")
        amount, payer = data.get("amount"), data.get("payer")
        if not isinstance(amount, dict) or type(amount.get("total")) is not int:
            raise param_error("amount.total", "amount.total 字段必填且为整数")
        if amount["total"] <= 0:
            raise param_error("amount.total", "amount.total 必须大于0")
        if amount.get("currency", "CNY") != "CNY":
            raise param_error("amount.currency", "币种不支持")
        if not isinstance(payer, dict) or not isinstance(payer.get("openid"), str):
            raise param_error("payer.openid", "payer.openid 字段必填")
        if data["mchid"] != self.config.mchid:
            raise PayError(400, "PARAM_ERROR", "请确认mchid是否正确")
        if data["appid"] != self.config.appid:
            raise PayError(400, "APPID_MCHID_NOT_MATCH", "appid和mch_id不匹配")
        if not OUT_NO.match(data["out_trade_no"]):
            raise param_error("out_trade_no", "out_trade_no 长度6-32且只能是数字、字母或_-|*@")
        if len(data["description"]) > 127:
            raise param_error("description", "description 长度超过限制")
        if not data["notify_url"].startswith(("https://", "http://")):
            raise param_error("notify_url", "notify_url 格式不正确")
        fingerprint = (
            data["appid"],
            data["description"],
            amount["total"],
            payer["openid"],
            data["notify_url"],
            data.get("attach", ""),
        )
        now = self.clock.now()
        asked = Transaction(
            api="v3",
            appid=data["appid"],
            mchid=data["mchid"],
            out_trade_no=data["out_trade_no"],
            description=data["description"],
            notify_url=data["notify_url"],
            total=amount["total"],
            openid=payer["openid"],
            prepay_id=new_prepay_id(now),
            created_at=now,
            fingerprint=fingerprint,
            attach=str(data.get("attach", "")),
        )
        try:
            txn = self.ledger.open(asked)
        except Refused as exc:
            raise PayError(*WORDS[exc.reason]) from None
        return 200, {"prepay_id": txn.prepay_id}

    def _own(self, request: web.Request) -> None:
        if request.query.get("mchid") != self.config.mchid:
            raise PayError(400, "PARAM_ERROR", "mchid 参数错误", {"location": "query"})

    async def query(self, request: web.Request, raw: str) -> tuple[int, Any]:
        self._own(request)
        txn = self.ledger.transactions.get(request.match_info["out_trade_no"])
        if txn is None or txn.api != "v3":
            raise PayError(404, "ORDER_NOT_EXIST", "订单不存在")
        return 200, txn.v3_resource()

    async def query_by_id(self, request: web.Request, raw: str) -> tuple[int, Any]:
        self._own(request)
        txn = self.ledger.by_transaction_id(request.match_info["transaction_id"])
        if txn is None or txn.api != "v3":
            raise PayError(404, "ORDER_NOT_EXIST", "订单不存在")
        return 200, txn.v3_resource()

    async def close(self, request: web.Request, raw: str) -> tuple[int, Any]:
        data = self.json_body(raw)
        if data.get("mchid") != self.config.mchid:
            raise param_error("mchid", "mchid 参数错误")
        with self.ledger.lock:
            txn = self.ledger.transactions.get(request.match_info["out_trade_no"])
            if txn is None or txn.api != "v3":
                raise PayError(404, "ORDER_NOT_EXIST", "订单不存在")
            if txn.state in ("SUCCESS", "REFUND"):
                raise PayError(400, "ORDERPAID", "该订单已支付")
            txn.state = "CLOSED"
        return 204, None

    # --- refunds -------------------------------------------------------------------------

    async def refund(self, request: web.Request, raw: str) -> tuple[int, Any]:
        data = self.json_body(raw)
        out_refund_no, amount = data.get("out_refund_no"), data.get("amount")
        if not isinstance(out_refund_no, str) or not OUT_NO.match(out_refund_no):
            raise param_error("out_refund_no", "out_refund_no 字段必填，长度6-64")
        if not isinstance(amount, dict) or not all(
            type(amount.get(k)) is int for k in ("refund", "total")
        ):
            raise param_error("amount", "amount.refund 与 amount.total 必填且为整数")
        if amount["refund"] <= 0:
            raise param_error("amount.refund", "amount.refund 必须大于0")
        if amount.get("currency", "CNY") != "CNY":
            raise param_error("amount.currency", "币种不支持")
        for name in ("out_trade_no", "transaction_id", "notify_url", "reason"):
            if data.get(name) is not None and not isinstance(data[name], str):
                raise param_error(name, f"{name} 必须是字符串")
        if not (data.get("out_trade_no") or data.get("transaction_id")):
            raise param_error("out_trade_no", "transaction_id 与 out_trade_no 必填其一")
        notify_url = data.get("notify_url") or ""
        fingerprint = (
            data.get("out_trade_no"),
            data.get("transaction_id"),
            amount["refund"],
            amount["total"],
        )

        def make(txn: Transaction) -> Refund:
            return Refund(
                api="v3",
                out_refund_no=out_refund_no,
                refund_id=new_refund_id(),
                out_trade_no=txn.out_trade_no,
                transaction_id=txn.transaction_id,
                total=txn.total,
                refund=amount["refund"],
                reason=str(data.get("reason", "")),
                notify_url=notify_url or txn.notify_url,
                created_at=self.clock.now(),
                fingerprint=fingerprint,
                refused=self.faults.take(request.path, ("refund_refused",)) is not None,
            )

        try:
            refund, new = self.ledger.refund(
                "v3",
                out_refund_no,
                fingerprint,
                out_trade_no=data.get("out_trade_no"),
                transaction_id=data.get("transaction_id"),
                total=amount["total"],
                amount=amount["refund"],
                make=make,
            )
        except Refused as exc:
            raise PayError(*WORDS[exc.reason]) from None
        if new:
            self.settle_refund(refund)
        return 200, refund.v3_resource(self.config.mchid)

    async def refund_query(self, request: web.Request, raw: str) -> tuple[int, Any]:
        refund = self.ledger.refunds.get(request.match_info["out_refund_no"])
        if refund is None or refund.api != "v3":
            raise PayError(404, "RESOURCE_NOT_EXISTS", "退款单不存在")
        return 200, refund.v3_resource(self.config.mchid)

    def routes(self) -> list[web.RouteDef]:
        e = self.endpoint
        return [
            web.post("/v3/pay/transactions/jsapi", e(self.jsapi)),
            web.get("/v3/pay/transactions/out-trade-no/{out_trade_no}", e(self.query)),
            web.get("/v3/pay/transactions/id/{transaction_id}", e(self.query_by_id)),
            web.post("/v3/pay/transactions/out-trade-no/{out_trade_no}/close", e(self.close)),
            web.post("/v3/refund/domestic/refunds", e(self.refund)),
            web.get("/v3/refund/domestic/refunds/{out_refund_no}", e(self.refund_query)),
        ]

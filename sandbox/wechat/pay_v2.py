"""api.mch.weixin.qq.com legacy paths: WeChat Pay API v2 (XML, MD5 / HMAC-SHA256).

WeChat's two-level answer is kept: ``return_code`` says whether the request itself was
acceptable (XML, signature, merchant), ``result_code``/``err_code`` say how the business
operation went. Answers are signed with the sign type of the request. ``/secapi`` paths
need the merchant's API certificate: the simulator's TLS listener refuses a handshake
without one from the test CA (`sandbox.wechat.tls`), and its CN must be the ``mch_id``;
over plain HTTP they answer ``return_code=FAIL``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web

from sandbox.wechat import ledger as books
from sandbox.wechat.config import Clock, WeChatSimConfig
from sandbox.wechat.faults import Faults
from sandbox.wechat.keys import V2_SIGN_TYPES, random_str, v2_sign
from sandbox.wechat.ledger import (
    Ledger,
    Refund,
    Refused,
    Transaction,
    new_prepay_id,
    new_refund_id,
    v2_time,
)
from sandbox.wechat.tls import client_certificate_cn
from sandbox.wechat.v2_xml import (
    V2_REFUND_STATUS,
    parse_xml,
    refund_time,
    signed_xml,
    to_xml,
    xml_response,
)


class BizError(Exception):
    """``result_code=FAIL`` with WeChat's ``err_code`` and ``err_code_des``."""

    def __init__(self, code: str, des: str) -> None:
        super().__init__(des)
        self.code, self.des = code, des


WORDS = {
    books.PAID: ("ORDERPAID", "该订单已支付"),
    books.CLOSED: ("ORDERCLOSED", "该订单已关闭"),
    books.DUPLICATE: ("INVALID_REQUEST", "201 商户订单号重复"),
    books.NO_TRADE: ("ERROR", "订单不存在"),
    books.UNPAID: ("ERROR", "订单未支付"),
    books.TOTAL_DIFFERS: ("PARAM_ERROR", "订单金额与原订单不一致"),
    books.TOO_MUCH: ("ERROR", "申请退款金额超过订单可退金额"),
    books.REFUND_DIFFERS: ("PARAM_ERROR", "订单金额或退款金额与之前请求不一致，请核实后再试"),
}
"""The books' refusals (`sandbox.wechat.ledger.Refused`) as v2 says them: err_code, des."""


class RequestError(Exception):
    """``return_code=FAIL``: the request itself was refused (format, signature, merchant)."""


Operation = Callable[[web.Request, dict[str, str]], Awaitable[dict[str, Any]]]


class PayV2:
    def __init__(
        self,
        config: WeChatSimConfig,
        clock: Clock,
        ledger: Ledger,
        faults: Faults,
        settle_refund: Callable[[Refund], None],
    ) -> None:
        self.config = config
        self.clock = clock
        self.ledger = ledger
        self.faults = faults
        self.settle_refund = settle_refund
        self.refused_requests = 0  # answered return_code=FAIL 签名错误
        self.refused_certificates = 0  # /secapi without the merchant's certificate

    def check_pay_sign(self, params: Mapping[str, str]) -> bool:
        """``wx.requestPayment`` v2: paySign over appId, timeStamp, nonceStr, package, signType."""
        sign_type = params.get("signType", "MD5")
        if sign_type not in V2_SIGN_TYPES:
            return False
        signed = {k: params.get(k, "") for k in ("appId", "timeStamp", "nonceStr", "package")}
        signed["signType"] = sign_type
        return params.get("paySign") == v2_sign(signed, self.config.v2_api_key, sign_type)

    def endpoint(
        self, operation: Operation, *, certificate: bool = False
    ) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def wrapped(request: web.Request) -> web.Response:
            params = parse_xml(await request.read())
            if params is None:
                return self._fail("XML格式错误")
            if certificate:
                cn = client_certificate_cn(request)
                if cn is None:
                    self.refused_certificates += 1
                    return self._fail("证书错误：请使用商户API证书（双向TLS）访问此接口")
                if cn != params.get("mch_id"):
                    self.refused_certificates += 1
                    return self._fail("证书与商户号不匹配")
            refusal = self.refusal(params)
            if refusal:
                return self._fail(refusal)
            sign_type = params.get("sign_type") or "MD5"
            base: dict[str, Any] = {
                "return_code": "SUCCESS",
                "return_msg": "OK",
                "appid": self.config.appid,
                "mch_id": self.config.mchid,
                "nonce_str": random_str(16),
            }
            try:
                result = await operation(request, params)
            except RequestError as exc:
                return self._fail(str(exc))
            except BizError as exc:
                base.update(result_code="FAIL", err_code=exc.code, err_code_des=exc.des)
                return xml_response(signed_xml(base, self.config.v2_api_key, sign_type))
            base.update(result_code="SUCCESS", **result)
            return xml_response(signed_xml(base, self.config.v2_api_key, sign_type))

        return wrapped

    def refusal(self, params: dict[str, str]) -> str:
        """Why a signed request is refused (``return_msg``), or '' when it is acceptable:
        sign type, merchant, app, nonce and signature."""
        sign_type = params.get("sign_type") or "MD5"
        if sign_type not in V2_SIGN_TYPES:
            return "签名类型错误"
        if params.get("mch_id") != self.config.mchid:
            return "mch_id参数格式错误"
        if params.get("appid") != self.config.appid:
            return "appid不存在"
        if not params.get("nonce_str"):
            return "nonce_str参数缺失"
        if params.get("sign") != v2_sign(params, self.config.v2_api_key, sign_type):
            self.refused_requests += 1
            return "签名错误"
        return ""

    @staticmethod
    def _fail(message: str) -> web.Response:
        return xml_response(to_xml({"return_code": "FAIL", "return_msg": message}))

    @staticmethod
    def _required(params: dict[str, str], *names: str) -> None:
        for name in names:
            if not params.get(name):
                raise RequestError(f"缺少参数{name}")

    @staticmethod
    def _fen(params: dict[str, str], name: str) -> int:
        value = params.get(name, "")
        if not value.isdigit() or int(value) <= 0:
            raise RequestError(f"{name}参数格式错误")
        return int(value)

    def _find(self, params: dict[str, str]) -> Transaction:
        txn = self.ledger.find(params.get("out_trade_no"), params.get("transaction_id"))
        if txn is None or txn.api != "v2":
            raise BizError("ORDERNOTEXIST", "订单不存在")
        return txn

    # --- operations ----------------------------------------------------------------------

    async def unifiedorder(self, request: web.Request, p: dict[str, str]) -> dict[str, Any]:
        self._required(p, "body", "out_trade_no", "total_fee", "spbill_create_ip", "notify_url")
        self._required(p, "trade_type")
        total = self._fen(p, "total_fee")
        if p["trade_type"] != "JSAPI":
            raise BizError("PARAM_ERROR", "trade_type参数错误：模拟器只支持JSAPI")
        self._required(p, "openid")
        if len(p["out_trade_no"]) > 32:
            raise RequestError("out_trade_no参数长度有误")
        if p.get("fee_type", "CNY") != "CNY":
            raise BizError("PARAM_ERROR", "fee_type参数错误")
        now = self.clock.now()
        asked = Transaction(
            api="v2",
            appid=p["appid"],
            mchid=p["mch_id"],
            out_trade_no=p["out_trade_no"],
            description=p["body"],
            notify_url=p["notify_url"],
            total=total,
            openid=p["openid"],
            prepay_id=new_prepay_id(now),
            created_at=now,
            fingerprint=(p["body"], total, p["openid"], p["notify_url"], p.get("attach", "")),
            attach=p.get("attach", ""),
            v2_sign_type=p.get("sign_type") or "MD5",
        )
        try:
            txn = self.ledger.open(asked)
        except Refused as exc:
            raise BizError(*WORDS[exc.reason]) from None
        return {"trade_type": "JSAPI", "prepay_id": txn.prepay_id}

    async def orderquery(self, request: web.Request, p: dict[str, str]) -> dict[str, Any]:
        if not (p.get("out_trade_no") or p.get("transaction_id")):
            raise RequestError("缺少参数out_trade_no或transaction_id")
        txn = self._find(p)
        answer: dict[str, Any] = {
            "openid": txn.openid,
            "is_subscribe": "N",
            "trade_type": "JSAPI",
            "trade_state": txn.state,
            "trade_state_desc": txn.state_desc(),
            "total_fee": txn.total,
            "fee_type": txn.currency,
            "out_trade_no": txn.out_trade_no,
            "attach": txn.attach or None,
        }
        if txn.transaction_id:
            answer.update(
                bank_type="OTHERS",
                cash_fee=txn.total,
                transaction_id=txn.transaction_id,
                time_end=v2_time(txn.success_time or txn.created_at),
            )
        return answer

    async def closeorder(self, request: web.Request, p: dict[str, str]) -> dict[str, Any]:
        self._required(p, "out_trade_no")
        with self.ledger.lock:
            txn = self._find(p)
            if txn.state in ("SUCCESS", "REFUND"):
                raise BizError("ORDERPAID", "订单已支付，不能发起关单")
            txn.state = "CLOSED"
        return {"result_msg": "OK"}

    async def refund(self, request: web.Request, p: dict[str, str]) -> dict[str, Any]:
        self._required(p, "out_refund_no", "total_fee", "refund_fee")
        if not (p.get("out_trade_no") or p.get("transaction_id")):
            raise RequestError("缺少参数out_trade_no或transaction_id")
        total, amount = self._fen(p, "total_fee"), self._fen(p, "refund_fee")
        fingerprint = (p.get("out_trade_no"), p.get("transaction_id"), total, amount)

        def make(txn: Transaction) -> Refund:
            if self.faults.take(request.path, ("refund_refused",)) is not None:
                raise BizError("NOTENOUGH", "基本账户余额不足，请充值后重新发起")
            return Refund(
                api="v2",
                out_refund_no=p["out_refund_no"],
                refund_id=new_refund_id(),
                out_trade_no=txn.out_trade_no,
                transaction_id=txn.transaction_id,
                total=txn.total,
                refund=amount,
                reason=p.get("refund_desc", ""),
                notify_url=p.get("notify_url") or txn.notify_url,
                created_at=self.clock.now(),
                fingerprint=fingerprint,
            )

        try:
            refund, new = self.ledger.refund(
                "v2",
                p["out_refund_no"],
                fingerprint,
                out_trade_no=p.get("out_trade_no"),
                transaction_id=p.get("transaction_id"),
                total=total,
                amount=amount,
                make=make,
            )
        except Refused as exc:
            raise BizError(*WORDS[exc.reason]) from None
        if new:
            self.settle_refund(refund)
        return self._refund_answer(refund)

    @staticmethod
    def _refund_answer(refund: Refund) -> dict[str, Any]:
        return {
            "transaction_id": refund.transaction_id,
            "out_trade_no": refund.out_trade_no,
            "out_refund_no": refund.out_refund_no,
            "refund_id": refund.refund_id,
            "refund_fee": refund.refund,
            "total_fee": refund.total,
            "cash_fee": refund.total,
            "cash_refund_fee": refund.refund,
            "refund_channel": None,
        }

    async def refundquery(self, request: web.Request, p: dict[str, str]) -> dict[str, Any]:
        with self.ledger.lock:
            refunds = [
                r
                for r in self.ledger.refunds.values()
                if r.api == "v2"
                and (
                    (p.get("out_refund_no") and r.out_refund_no == p["out_refund_no"])
                    or (p.get("refund_id") and r.refund_id == p["refund_id"])
                    or (p.get("out_trade_no") and r.out_trade_no == p["out_trade_no"])
                    or (p.get("transaction_id") and r.transaction_id == p["transaction_id"])
                )
            ]
        if not refunds:
            raise BizError("REFUNDNOTEXIST", "退款订单查询失败")
        answer: dict[str, Any] = {
            "transaction_id": refunds[0].transaction_id,
            "out_trade_no": refunds[0].out_trade_no,
            "total_fee": refunds[0].total,
            "cash_fee": refunds[0].total,
            "refund_fee": sum(r.refund for r in refunds),
            "refund_count": len(refunds),
        }
        for n, r in enumerate(refunds):
            answer.update(
                {
                    f"out_refund_no_{n}": r.out_refund_no,
                    f"refund_id_{n}": r.refund_id,
                    f"refund_channel_{n}": "ORIGINAL",
                    f"refund_fee_{n}": r.refund,
                    f"refund_status_{n}": V2_REFUND_STATUS[r.status],
                    f"refund_recv_accout_{n}": "支付用户的零钱",
                    f"refund_success_time_{n}": refund_time(r.success_time),
                }
            )
        return answer

    def routes(self) -> list[web.RouteDef]:
        e = self.endpoint
        return [
            web.post("/pay/unifiedorder", e(self.unifiedorder)),
            web.post("/pay/orderquery", e(self.orderquery)),
            web.post("/pay/closeorder", e(self.closeorder)),
            web.post("/secapi/pay/refund", e(self.refund, certificate=True)),
            web.post("/pay/refundquery", e(self.refundquery)),
        ]

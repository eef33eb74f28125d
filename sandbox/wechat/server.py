"""The WeChat simulator: one aiohttp application for api.weixin.qq.com and
api.mch.weixin.qq.com paths (they do not collide), plus the control API tests drive.

    config, settings = generate_merchant_setup(time_scale=0.001)
    async with WeChatSimulator(config).running() as sim:
        settings = sim.hub_settings(settings, notify_base="http://127.0.0.1:8700")
        code = sim.issue_js_code("o-visitor")
        ...
        notice = await sim.pay("ORDER123")
        await notice.wait()
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from sandbox.wechat.bills import Bills
from sandbox.wechat.config import Clock, WeChatSimConfig
from sandbox.wechat.faults import MIDDLEWARE_MODES, Fault, Faults
from sandbox.wechat.keys import load_public, verify_lines
from sandbox.wechat.ledger import Ledger, Refund, Transaction, new_transaction_id, rfc3339
from sandbox.wechat.login import MiniProgram, wx_error
from sandbox.wechat.notify import Notification, Notifier
from sandbox.wechat.pay_v2 import PayV2
from sandbox.wechat.pay_v3 import PayV3
from sandbox.wechat.tls import SimTLS, server_context
from sandbox.wechat.v2_xml import v2_fault_answer, v2_pay_notice, v2_refund_notice


@dataclass
class NoticeOptions:
    """How WeChat delivers a notice: copies (servers), at once or not, late, probe first."""

    copies: int = 1
    concurrent: bool = False
    delay: float = 0.0  # real seconds before the first delivery
    probe: bool = False  # send one copy with a wrong signature first


class WeChatSimulator:
    def __init__(self, config: WeChatSimConfig, *, refund_settle_seconds: float = 5.0) -> None:
        self.config = config
        self.clock = Clock()
        self.faults = Faults()
        self.ledger = Ledger()
        self.notifier = Notifier(config)
        self.login = MiniProgram(config, self.clock)
        self.v3 = PayV3(config, self.clock, self.ledger, self.notifier, self.faults, self._settle)
        self.v2 = PayV2(config, self.clock, self.ledger, self.faults, self._settle)
        self.bills = Bills(config, self.clock, self.ledger, self.v3, self.v2)
        self.refund_settle_seconds = refund_settle_seconds  # WeChat seconds, scaled
        self.refund_notice = NoticeOptions()  # how refund notices are delivered
        self.base_url = ""
        self.tls_base_url = ""  # https://…: the TLS listener, when started with `tls`
        self._app: web.Application | None = None
        self._closing = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()

    # --- application ---------------------------------------------------------------------

    @property
    def app(self) -> web.Application:
        """The aiohttp application (also usable with pytest-aiohttp's ``aiohttp_server``)."""
        if self._app is None:
            app = web.Application(middlewares=[self._fault_middleware], client_max_size=1 << 20)
            app.add_routes(
                self.login.routes() + self.v3.routes() + self.v2.routes() + self.bills.routes()
            )
            app.cleanup_ctx.append(self._lifecycle)
            app.on_shutdown.append(self._wake_sleepers)
            self._app = app
        return self._app

    async def _wake_sleepers(self, app: web.Application) -> None:
        """Requests held by a `timeout` fault end at once when the server stops."""
        self._closing.set()

    async def _lifecycle(self, app: web.Application) -> AsyncIterator[None]:
        self._closing = asyncio.Event()
        await self.notifier.start()
        yield
        self._closing.set()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.notifier.close()

    @asynccontextmanager
    async def running(
        self, host: str = "127.0.0.1", port: int = 0, *, tls: SimTLS | None = None
    ) -> AsyncIterator[WeChatSimulator]:
        """Serve on a real socket; `base_url` is set while inside the block.

        With `tls` the same application is also served over HTTPS on another port
        (`tls_base_url`) that requires a client certificate from `tls.client_ca_pem`:
        WeChat Pay's ``/secapi`` paths answer only there (over plain HTTP they refuse)."""
        runner = web.AppRunner(self.app, shutdown_timeout=1.0)
        await runner.setup()
        try:
            self.base_url = await self._listen(runner, "http", host, port)
            if tls is not None:
                self.tls_base_url = await self._listen(runner, "https", host, 0, tls)
            yield self
        finally:
            # A TLS connection the client keeps open (keep-alive) is closed gracefully: the
            # server waits for the client's close_notify, which may never come before the
            # loop ends; such transports are aborted once the server has stopped.
            server = runner.server
            handlers = server.connections if server is not None else []
            tls = [
                h.transport
                for h in handlers
                if h.transport is not None and h.transport.get_extra_info("sslcontext")
            ]
            await runner.cleanup()
            for transport in tls:
                transport.abort()
            self.tls_base_url = ""

    @staticmethod
    async def _listen(
        runner: web.AppRunner, scheme: str, host: str, port: int, tls: SimTLS | None = None
    ) -> str:
        site = web.TCPSite(runner, host, port, ssl_context=server_context(tls) if tls else None)
        await site.start()
        server = site._server
        assert server is not None
        return f"{scheme}://{host}:{server.sockets[0].getsockname()[1]}"

    def hub_settings(
        self, settings: dict[str, str], *, notify_base: str = "", tls: bool = False
    ) -> dict[str, str]:
        """`settings` from `generate_merchant_setup` pointed at this running simulator.

        With `tls` the ``/secapi`` calls go to the TLS listener (``WECHAT_PAY_SECAPI_BASE``;
        the hub also needs the merchant's certificate settings and, in
        ``WECHAT_PAY_CA_BUNDLE``, the CA of the simulator's certificate)."""
        updated = dict(settings, WECHAT_API_BASE=self.base_url, WECHAT_PAY_BASE=self.base_url)
        if tls:
            if not self.tls_base_url:
                raise RuntimeError("the simulator was started without tls")
            updated["WECHAT_PAY_SECAPI_BASE"] = self.tls_base_url
        if notify_base:
            updated["WECHAT_NOTIFY_BASE"] = notify_base
        return updated

    # --- faults --------------------------------------------------------------------------

    @web.middleware
    async def _fault_middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        fault = self.faults.take(request.path, MIDDLEWARE_MODES)
        if fault is None:
            return await handler(request)
        if fault.mode == "timeout":
            seconds = (
                fault.seconds if fault.seconds is not None else self.config.fault_timeout_sleep
            )
            await request.read()  # WeChat has the request; only the answer will be late
            with suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), seconds)
            if self._closing.is_set():
                return web.Response(status=503, text="shutting down")
            return await handler(request)
        return self._fault_answer(request.path, fault)

    def _fault_answer(self, path: str, fault: Fault) -> web.Response:
        if fault.mode == "http_5xx":
            return web.Response(
                status=fault.status,
                text=f"<html><body><h1>{fault.status} Bad Gateway</h1></body></html>",
                content_type="text/html",
            )
        busy = fault.mode == "system_error"
        if path.startswith("/v3/"):
            if busy:
                return self.v3.respond(500, {"code": "SYSTEM_ERROR", "message": "系统错误"})
            return self.v3.respond(429, {"code": "FREQUENCY_LIMITED", "message": "频率超限"})
        if path.startswith(("/pay/", "/secapi/")):
            return v2_fault_answer(self.config, busy)
        if busy:
            return wx_error(-1, "system error")
        return wx_error(45011, "api minute-quota reach limit  mustslower  retry next minute")

    # --- control API: login --------------------------------------------------------------

    def issue_js_code(self, openid: str | None = None, *, unionid: str | None = None) -> str:
        """A one-time ``wx.login()`` code for `openid` (valid five minutes)."""
        return self.login.issue_js_code(openid, unionid=unionid)

    def encrypt_phone_number(
        self, openid: str, phone_number: str, *, country_code: str = "86"
    ) -> dict[str, str]:
        """``{"encryptedData", "iv"}`` as ``getPhoneNumber`` hands them to the mini-program."""
        return self.login.encrypt_phone_number(openid, phone_number, country_code=country_code)

    @property
    def tokens_issued(self) -> int:
        return self.login.tokens_issued

    @property
    def subscribe_messages(self) -> list[Any]:
        return self.login.messages

    # --- control API: payment ------------------------------------------------------------

    def transaction(self, out_trade_no: str) -> Transaction:
        return self.ledger.transactions[out_trade_no]

    def refund(self, out_refund_no: str) -> Refund:
        return self.ledger.refunds[out_refund_no]

    @property
    def notifications(self) -> list[Notification]:
        return self.notifier.sent

    @property
    def lower_case_headers(self) -> bool:
        """Send the ``Wechatpay-*`` headers of answers and notices in lower case (as they
        arrive over HTTP/2 or through a proxy that rewrites them)."""
        return self.notifier.lower_case_headers

    @lower_case_headers.setter
    def lower_case_headers(self, value: bool) -> None:
        self.notifier.lower_case_headers = value

    async def pay(
        self,
        out_trade_no: str,
        *,
        pay_sign_params: dict[str, str] | None = None,
        copies: int = 1,
        concurrent: bool = False,
        delay: float = 0.0,
        probe: bool = False,
    ) -> Notification:
        """The visitor completes ``wx.requestPayment``: SUCCESS, then the notice is sent.

        With `pay_sign_params` (what the hub gave the mini-program: appId, timeStamp,
        nonceStr, package, signType, paySign) the payment is refused unless the
        signature verifies, as the WeChat client refuses it. Raises LookupError for an
        unknown order and ValueError for a closed or already paid one.
        """
        with self.ledger.lock:
            txn = self.ledger.transactions.get(out_trade_no)
            if txn is None:
                raise LookupError(f"no transaction {out_trade_no!r}")
            if txn.state != "NOTPAY":
                raise ValueError(f"transaction {out_trade_no!r} is {txn.state}")
            if pay_sign_params is not None:
                self._check_pay_sign(txn, pay_sign_params)
            txn.state = "SUCCESS"
            txn.success_time = self.clock.now()
            txn.transaction_id = new_transaction_id(txn.success_time)
        return self.notify_payment(
            out_trade_no, copies=copies, concurrent=concurrent, delay=delay, probe=probe
        )

    def notify_payment(
        self,
        out_trade_no: str,
        *,
        copies: int = 1,
        concurrent: bool = False,
        delay: float = 0.0,
        probe: bool = False,
    ) -> Notification:
        """(Re)send the payment notice of a paid transaction, as WeChat's servers do."""
        txn = self.ledger.transactions[out_trade_no]
        if txn.state not in ("SUCCESS", "REFUND"):
            raise ValueError(f"transaction {out_trade_no!r} is not paid")
        if txn.api == "v3":
            notice_id, body = self.notifier.v3_body(
                "TRANSACTION.SUCCESS", "支付成功", "transaction", txn.v3_resource()
            )
            notice = Notification(notice_id, "TRANSACTION.SUCCESS", "v3", txn.notify_url, body)
        else:
            body, probe_body = v2_pay_notice(self.config, txn)
            notice = Notification(
                txn.transaction_id, "TRANSACTION.SUCCESS", "v2", txn.notify_url, body, probe_body
            )
        notice.out_trade_no = out_trade_no
        return self.notifier.send(
            notice, copies=copies, concurrent=concurrent, delay=delay, probe=probe
        )

    def _check_pay_sign(self, txn: Transaction, params: dict[str, str]) -> None:
        if params.get("appId") != txn.appid:
            raise ValueError("paySign parameters: appId does not match the order")
        if params.get("package") != f"prepay_id={txn.prepay_id}":
            raise ValueError("paySign parameters: package is not this order's prepay_id")
        fields = [params.get(k, "") for k in ("appId", "timeStamp", "nonceStr", "package")]
        if txn.api == "v3":
            if params.get("signType") != "RSA":
                raise ValueError("paySign parameters: signType must be RSA for API v3")
            key = load_public(self.config.merchant_public_key_pem)
            if not verify_lines(key, params.get("paySign", ""), *fields):
                raise ValueError("paySign does not verify with the merchant's key")
        elif not self.v2.check_pay_sign(params):
            raise ValueError("paySign does not verify with the v2 API key")

    # --- refunds -------------------------------------------------------------------------

    def _settle(self, refund: Refund) -> None:
        """Settle a refund a little later (scaled), then send its notice."""

        async def settle() -> None:
            await asyncio.sleep(self.config.scaled(self.refund_settle_seconds))
            with self.ledger.lock:
                if refund.refused:
                    refund.status = "ABNORMAL"
                else:
                    refund.status = "SUCCESS"
                    refund.success_time = self.clock.now()
                    txn = self.ledger.transactions.get(refund.out_trade_no)
                    if txn is not None:
                        txn.state = "REFUND"
            self.notify_refund(refund.out_refund_no)

        task = asyncio.get_running_loop().create_task(settle())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def notify_refund(self, out_refund_no: str) -> Notification | None:
        """Send a settled refund's notice (REFUND.SUCCESS / REFUND.ABNORMAL)."""
        refund = self.ledger.refunds[out_refund_no]
        if not refund.notify_url or refund.status == "PROCESSING":
            return None
        event = "REFUND.SUCCESS" if refund.status == "SUCCESS" else f"REFUND.{refund.status}"
        if refund.api == "v3":
            resource = {
                "mchid": self.config.mchid,
                "transaction_id": refund.transaction_id,
                "out_trade_no": refund.out_trade_no,
                "refund_id": refund.refund_id,
                "out_refund_no": refund.out_refund_no,
                "refund_status": refund.status,
                "user_received_account": "支付用户零钱",
                "amount": {
                    "total": refund.total,
                    "refund": refund.refund,
                    "payer_total": refund.total,
                    "payer_refund": refund.refund,
                },
            }
            if refund.success_time is not None:
                resource["success_time"] = rfc3339(refund.success_time)
            summary = "退款成功" if refund.status == "SUCCESS" else "退款异常"
            notice_id, body = self.notifier.v3_body(event, summary, "refund", resource)
            notice = Notification(notice_id, event, "v3", refund.notify_url, body)
        else:
            body, probe_body = v2_refund_notice(self.config, refund)
            notice = Notification(
                refund.refund_id, event, "v2", refund.notify_url, body, probe_body
            )
        notice.out_trade_no, notice.out_refund_no = refund.out_trade_no, refund.out_refund_no
        o = self.refund_notice
        return self.notifier.send(
            notice, copies=o.copies, concurrent=o.concurrent, delay=o.delay, probe=o.probe
        )

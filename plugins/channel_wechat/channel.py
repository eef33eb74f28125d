"""The WeChat channel adapter: its settings, its WeChat clients, and the delivery of
the calls its events queue (close, refund, subscribe message)."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from hub.sdk import (
    ChannelContext,
    DeliveryError,
    Order,
    OrderState,
    PartnerCall,
    Statement,
    StatementUnavailable,
)
from hub.sdk.channels import RetryPolicy
from plugins.channel_wechat import config as wx_config
from plugins.channel_wechat.config import WeChatConfig
from plugins.channel_wechat.events import CHANNEL
from plugins.channel_wechat.messages import AccessTokens, Messenger, WeChatApiError
from plugins.channel_wechat.pay_api import NO_BILL, PayError, PayGateway, RefundRequest
from plugins.channel_wechat.pay_v2 import PayV2
from plugins.channel_wechat.pay_v3 import PayV3
from plugins.channel_wechat.trades import NS, Trades, mask_openid

if TYPE_CHECKING:
    from plugins.channel_wechat.notifications import Notifications

log = logging.getLogger(__name__)

#: What a visitor reads in each subscribe message (template data keys per template).
TEMPLATES = {
    "issued": "template_issued",
    "reminder": "template_reminder",
    "late_refund": "template_refund",
}


class WeChatChannel:
    name = CHANNEL
    # WeChat's APIs answer in well under a second; retry briskly, give up after a day.
    retry_policy = RetryPolicy(
        timeout_seconds=10, initial_seconds=2, max_seconds=600, deadline_seconds=86_400
    )

    def __init__(self) -> None:
        self.ctx: ChannelContext | None = None
        self.config: WeChatConfig | None = None
        self.problem = "not set up"
        self.pay: PayGateway | None = None
        self.tokens: AccessTokens | None = None
        self.messenger: Messenger | None = None
        self.notifications: Notifications | None = None

    # -- setup ---------------------------------------------------------------------------
    def setup(self, ctx: ChannelContext) -> None:
        from plugins.channel_wechat import miniapp_api, notifications

        self.ctx = ctx
        try:
            self.config = wx_config.load(ctx.settings)
        except wx_config.NotConfigured as exc:
            # A hub without WeChat settings still starts; the routes say NOT_CONFIGURED.
            self.problem = str(exc)
            log.warning("wechat channel not configured: %s", exc)
        else:
            cfg = self.config
            self.pay = (
                PayV3(cfg, self.http, self.now) if cfg.v3 else PayV2(cfg, self.http, self.now)
            )
            self.tokens = AccessTokens(cfg, self.http, self.now)
            self.messenger = Messenger(cfg, self.http, self.tokens)
        self.notifications = notifications.mount(self, ctx.routes)
        miniapp_api.mount(self, ctx.routes)

    def http(self) -> Any:
        assert self.ctx is not None
        return self.ctx.http

    def now(self) -> float:
        return self.now_dt().timestamp()

    def now_dt(self) -> datetime:
        assert self.ctx is not None
        return self.ctx.clock.now()

    @property
    def trades(self) -> Trades:
        assert self.ctx is not None
        return Trades(self.ctx.store(NS))

    @property
    def orders(self) -> Any:
        assert self.ctx is not None
        return self.ctx.orders

    async def payment_failed(self, operation: str, code: str, reference: str) -> None:
        """Count a failed WeChat Pay call for the ``payment_failures`` alert rule. Best
        effort: a failure to count must not change what the visitor or the outbox sees."""
        assert self.ctx is not None
        try:
            await self.ctx.payment_failures.record(
                CHANNEL, operation, code=code, reference=reference
            )
        except Exception:
            log.exception("wechat %s failure of %s not counted", operation, reference)

    # -- delivery ------------------------------------------------------------------------
    async def deliver(self, call: PartnerCall) -> None:
        if self.config is None or self.pay is None:
            raise DeliveryError(f"wechat not configured: {self.problem}")
        handler = {"close": self._close, "refund": self._refund, "message": self._message}.get(
            call.kind
        )
        if handler is None:
            raise DeliveryError(f"unknown wechat call {call.kind}", retryable=False)
        try:
            await handler(dict(call.payload))
        except PayError as exc:
            reference = call.payload.get("out_refund_no") or call.payload.get("out_trade_no")
            await self.payment_failed(call.kind, exc.code, str(reference or ""))
            raise DeliveryError(f"wechat pay: {exc}", retryable=exc.retryable) from None
        except WeChatApiError as exc:
            raise DeliveryError(f"wechat api: {exc}", retryable=exc.retryable) from None

    # -- statements ----------------------------------------------------------------------
    async def fetch_statement(self, day: date) -> Statement:
        """The ALL trade bill of `day` (v3 tradebill or v2 downloadbill, whichever API the
        merchant is on): the daily reconciliation job imports it (`StatementSource`)."""
        if self.config is None or self.pay is None:
            raise StatementUnavailable(f"wechat not configured: {self.problem}")
        try:
            raw = await self.pay.trade_bill(day)
        except PayError as exc:
            raise StatementUnavailable(
                f"wechat bill of {day}: {exc}",
                empty=exc.code in NO_BILL,
                retryable=exc.retryable or exc.code == "STATEMENT_CREATING",
            ) from None
        return Statement(day, raw, self.config.mchid)

    async def _close(self, payload: dict[str, Any]) -> None:
        assert self.pay is not None
        await self.pay.close(str(payload["out_trade_no"]))

    async def _refund(self, payload: dict[str, Any]) -> None:
        """One refund, idempotent on its ``out_refund_no``: its amount is fixed the first
        time the call is delivered (stored), so a retry asks WeChat for the same refund."""
        assert self.pay is not None
        out_trade, refund_no = str(payload["out_trade_no"]), str(payload["out_refund_no"])
        trade = await self.trades.get(out_trade)
        if trade is None:
            raise DeliveryError(f"no trade {out_trade}", retryable=False)
        total = int(trade["amount"])
        amount = payload.get("amount")
        if amount is None:  # "the rest": the whole payment less the refunds already asked
            earlier = await self.trades.refunds(out_trade)
            amount = total - sum(
                int(r["amount"]) for r in earlier if r["out_refund_no"] != refund_no
            )
        record = await self.trades.add_refund(
            out_trade,
            refund_no,
            {
                "out_trade_no": out_trade,
                "out_refund_no": refund_no,
                "amount": int(amount),
                "reason": payload.get("reason", ""),
                "status": "REQUESTED",
            },
        )
        if int(record["amount"]) <= 0:
            return
        # The status stays "REQUESTED" until WeChat's refund notice says how it ended (the
        # notice may even arrive before this call returns; it alone writes the outcome).
        await self.pay.refund(
            RefundRequest(out_trade, refund_no, int(record["amount"]), total, str(record["reason"]))
        )

    async def _message(self, payload: dict[str, Any]) -> None:
        assert self.config is not None and self.messenger is not None
        template = str(payload["template"])
        trade = await self.trades.get(str(payload["out_trade_no"]))
        order: Order | None = await self.orders.get(str(payload["order_id"]))
        if trade is None or order is None:
            raise DeliveryError("order unknown to the wechat channel", retryable=False)
        if template == "reminder":
            # Only a visit that still stands, and not once it has begun.
            if order.state is not OrderState.CONFIRMED:
                return
            china_today = (self.now_dt() + timedelta(hours=self.config.utc_offset_hours)).date()
            if china_today >= order.travel_date:
                return
        data = {
            "thing1": trade.get("description", "Tickets"),
            "date2": order.travel_date.isoformat(),
            "thing3": order.slot or "all day",
            "number4": str(order.quantity),
            "amount5": f"{order.amount / 100:.2f}",
        }
        template_id = getattr(self.config, TEMPLATES.get(template, "template_issued"))
        page = f"pages/order/detail?no={trade['out_trade_no']}"
        await self.messenger.send(str(trade["openid"]), template_id, page, data)
        log.info("wechat %s message sent to %s", template, mask_openid(str(trade["openid"])))

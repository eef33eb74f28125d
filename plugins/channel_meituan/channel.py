"""The Meituan channel: one POST route per operation, and our notices.

Everything protocol-level comes from ``meituan.toml`` (this folder) through the hub's
generic spec-driven modules — inbound `hub.channels.adapter.SpecInbound` (MWS HMAC-SHA1
with the ``Date`` window, global encryption switched by ``X-Encryption-Status`` and
encrypted back, the envelope, result codes), outbound `hub.channels.outbound.SpecOutbound`
(MWS-signed notices with ``Date`` and ``PartnerId``) — and this plugin only holds what
the spec cannot say: which call maps to which order move (`services`), which tickets a
refund takes (`refunds`), the bodies (`bodies`) and the notices (`callbacks`).

Meituan calls URLs the supplier chooses: ``POST /api/channels/meituan/<path>`` with the
paths of the spec's ``[operations]`` (``order/create``, ``order/pay``, ``order/query``,
``order/refund``, ``order/close``).

Settings (``TICKETHUB_CHANNEL_SETTINGS`` → ``meituan``): ``MEITUAN_PARTNER_ID``,
``MEITUAN_CLIENT_ID``, ``MEITUAN_CLIENT_SECRET``, ``MEITUAN_AES_KEY`` (16 characters,
global encryption), ``MEITUAN_CALLBACK_URL`` (Meituan's host; the notice paths follow),
``MEITUAN_ENCRYPT_CALLBACKS`` (send our notices encrypted too),
``MEITUAN_ASYNC_ISSUE`` (pay answered 598 "issuing in progress", the vouchers sent in a
``voucher_notice``) and
``MEITUAN_CALLBACK_TIME_SCALE`` (sandboxes and demos only: compresses the notices'
retry schedule and attempt timeout, e.g. ``0.01``).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from aiohttp import web

from hub.sdk import ChannelContext, DeliveryError, PartnerCall
from hub.sdk.channels import (
    ChannelSpec,
    Inbound,
    OutboundConfigError,
    SecretsMissing,
    SpecInbound,
    SpecOutbound,
    callback_policies,
)
from hub.sdk.web import partner_body
from plugins.channel_meituan import callbacks, protocol
from plugins.channel_meituan.services import MeituanServices
from plugins.channel_meituan.stock import MeituanStockPusher

if TYPE_CHECKING:
    from hub.sdk.channels import RetryPolicy

log = logging.getLogger(__name__)


def scaled(policy: RetryPolicy, scale: float) -> RetryPolicy:
    """The same schedule, every duration multiplied by ``scale``."""
    if scale == 1.0:
        return policy
    return policy.model_copy(
        update={
            "timeout_seconds": policy.timeout_seconds * scale,
            "initial_seconds": policy.initial_seconds * scale,
            "max_seconds": policy.max_seconds * scale,
            "jitter_seconds": policy.jitter_seconds * scale,
            "deadline_seconds": policy.deadline_seconds * scale,
        }
    )


class MeituanChannel:
    name = "meituan"

    def __init__(self, spec: ChannelSpec | None = None) -> None:
        # Only our own file: another partner's broken spec must not take Meituan down.
        self.spec = spec or protocol.spec()
        self.ctx: ChannelContext | None = None
        self.inbound: SpecInbound | None = None
        self.services: MeituanServices | None = None
        self.deliveries: callbacks.Deliveries | None = None
        self.account_id = ""
        self._policies = callback_policies(self.spec)

    def retry_policy_for(self, kind: str) -> RetryPolicy | None:
        """The spec's schedule for this notice (the outbox asks per call kind)."""
        return self._policies.get(kind)

    async def deliver(self, call: PartnerCall) -> None:
        if self.deliveries is None:
            raise DeliveryError(
                "meituan notices are not configured (MEITUAN_CALLBACK_URL and secrets)",
                retryable=False,
            )
        await self.deliveries.deliver(call)

    def setup(self, ctx: ChannelContext) -> None:
        self.ctx = ctx
        settings = ctx.settings
        callbacks.HOOKS.clock = ctx.clock
        flag = str(settings.get("MEITUAN_ASYNC_ISSUE", "")).strip().lower()
        callbacks.HOOKS.async_issue = flag in ("1", "true", "yes", "on")
        try:
            scale = float(settings.get("MEITUAN_CALLBACK_TIME_SCALE", 1.0))
        except (TypeError, ValueError):
            scale = 1.0
        if scale > 0:
            self._policies = {k: scaled(p, scale) for k, p in callback_policies(self.spec).items()}
        try:
            self.inbound = SpecInbound(
                self.spec, settings, clock=ctx.clock.now, protocols=ctx.protocols
            )
            self.services = MeituanServices(
                self.spec, self.inbound, ctx, async_issue=callbacks.HOOKS.async_issue
            )
            self.account_id = self.inbound.account_id
        except SecretsMissing as exc:
            # A hub without Meituan credentials must still start; Meituan gets its own
            # "system error" code until the channel is configured.
            log.warning("meituan channel not configured: %s", exc)
        if self.services is not None and settings.get("MEITUAN_CALLBACK_URL"):
            try:
                outbound = SpecOutbound(
                    self.spec, settings, clock=ctx.clock.now, protocols=ctx.protocols
                )
                self.deliveries = callbacks.Deliveries(outbound, ctx)
            except OutboundConfigError as exc:
                log.warning("meituan notices not configured: %s", exc)
        MeituanStockPusher.bind(self)
        if callbacks.HOOKS.async_issue and self.deliveries is None:
            log.warning("MEITUAN_ASYNC_ISSUE without notices: vouchers only reach Meituan by query")

        @ctx.routes.post(
            f"/api/channels/{self.name}/{{operation:.+}}",
            summary="Meituan supplier API (operation in the URL: order/create, order/pay, "
            "order/query, order/refund, order/close, price/calendar)",
            tag="meituan",
            body=partner_body("Meituan's envelope: partnerId and body, signed in the headers"),
            responses={200: "always: Meituan's result code is in 'code' (200 = success)"},
        )
        async def endpoint(request: web.Request) -> web.Response:
            return await self.serve(request, request.match_info["operation"])

    async def serve(self, request: web.Request, operation: str) -> web.Response:
        """One Meituan call to its answer; never a 500 (Meituan reads codes)."""
        inbound = self.inbound
        if inbound is None or self.services is None:
            entry = self.spec.result_entry("INTERNAL")
            doc = {"code": entry.code, "describe": f"{entry.message}: not configured"}
            return web.json_response(doc)
        return await inbound.respond(request, operation, self.handle)

    async def handle(self, got: Inbound) -> dict[str, Any]:
        assert self.inbound is not None and self.services is not None
        inbound = self.inbound
        # Meituan sends PartnerId on every call (the envelope's partnerId was checked
        # by the adapter); a call without it, or naming another partner, is not Meituan's.
        header = got.call.header("PartnerId") if got.call is not None else None
        if header is None or header.strip() != self.account_id:
            return inbound.answer("BAD_ACCOUNT", got.operation, detail="PartnerId header")
        return await inbound.dispatch(got, self.services.table())

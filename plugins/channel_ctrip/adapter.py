"""The Ctrip channel: one POST route for every supplier service, and our callbacks.

Everything protocol-level comes from ``ctrip.toml`` (this folder) through the hub's
generic spec-driven modules — inbound `hub.channels.adapter.SpecInbound`, outbound
`hub.channels.outbound.SpecOutbound` — and this plugin only holds what the spec cannot
say: which service maps to which order move (`services`), which tickets a cancel takes
(`selection`), the bodies (`bodies`) and the callbacks (`callbacks`).

Settings (``TICKETHUB_CHANNEL_SETTINGS`` → ``ctrip``): ``CTRIP_ACCOUNT_ID``,
``CTRIP_SIGN_KEY``, ``CTRIP_AES_KEY``, ``CTRIP_AES_IV`` (inbound and outbound),
``CTRIP_CALLBACK_URL`` (where our callbacks go; without it no callback is queued) and
``CTRIP_ASYNC_SERVICES`` (services answered "pending", see `services`).
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from hub.sdk import ChannelContext, DeliveryError, PartnerCall
from hub.sdk.channels import (
    ChannelSpec,
    OutboundConfigError,
    Refusal,
    RetryPolicy,
    SecretsMissing,
    SpecInbound,
    SpecOutbound,
    callback_policies,
)
from hub.sdk.web import partner_body
from plugins.channel_ctrip import callbacks, protocol
from plugins.channel_ctrip.services import CtripServices, async_services
from plugins.channel_ctrip.stock import CtripStockPusher

log = logging.getLogger(__name__)


class CtripChannel:
    name = "ctrip"

    def __init__(self, spec: ChannelSpec | None = None) -> None:
        self.spec = spec or protocol.spec()
        self.ctx: ChannelContext | None = None
        self.inbound: SpecInbound | None = None
        self.services: CtripServices | None = None
        self.deliveries: callbacks.Deliveries | None = None
        self._policies = callback_policies(self.spec)

    def retry_policy_for(self, kind: str) -> RetryPolicy | None:
        """The spec's schedule for this callback (the outbox asks per call kind)."""
        return self._policies.get(kind)

    async def deliver(self, call: PartnerCall) -> None:
        if self.deliveries is None:
            raise DeliveryError("ctrip callbacks are not configured", retryable=False)
        await self.deliveries.deliver(call)

    def setup(self, ctx: ChannelContext) -> None:
        self.ctx = ctx
        settings = ctx.settings
        try:
            self.inbound = SpecInbound(
                self.spec, settings, clock=ctx.clock.now, protocols=ctx.protocols
            )
            self.services = CtripServices(
                self.spec,
                self.inbound,
                ctx,
                pending_for=async_services(settings.get("CTRIP_ASYNC_SERVICES")),
            )
        except SecretsMissing as exc:
            # A hub without Ctrip credentials must still start; Ctrip gets its own
            # "supplier system error" code until the channel is configured.
            log.warning("ctrip channel not configured: %s", exc)
        outbound_ok = False
        if self.services is not None and settings.get("CTRIP_CALLBACK_URL"):
            try:
                outbound = SpecOutbound(
                    self.spec, settings, clock=ctx.clock.now, protocols=ctx.protocols
                )
                self.deliveries = callbacks.Deliveries(self.spec, outbound, ctx)
                outbound_ok = True
            except OutboundConfigError as exc:
                log.warning("ctrip callbacks not configured: %s", exc)
        CtripStockPusher.bind(self)
        callbacks.configure(
            self.spec,
            ctx.clock,
            callbacks=outbound_ok,
            confirms=bool(self.services and self.services.pending_for),
        )

        @ctx.routes.post(
            f"/api/channels/{self.name}",
            summary="Ctrip supplier API (all services; operation in header.serviceName)",
            tag="ctrip",
            body=partner_body(
                "Ctrip's envelope: header (accountId, serviceName, requestTime, version, sign) "
                "and body (AES-encrypted, signed with md5)"
            ),
            responses={200: "always: Ctrip's result code is in header.resultCode"},
        )
        async def endpoint(request: web.Request) -> web.Response:
            try:
                raw = await request.read()
            except web.HTTPRequestEntityTooLarge:
                # Over the hub's own body limit: still an answer in Ctrip's envelope.
                return web.json_response(self.too_large())
            return web.json_response(await self.handle(raw))

    def _unconfigured(self) -> dict[str, Any]:
        entry = self.spec.result_entry("INTERNAL")
        return {
            "header": {
                "resultCode": entry.code,
                "resultMessage": f"{entry.message}: not configured",
            }
        }

    def too_large(self) -> dict[str, Any]:
        if self.inbound is None:
            return self._unconfigured()
        return self.inbound.answer("PARSE_ERROR", detail="body too large")

    async def handle(self, raw: bytes) -> dict[str, Any]:
        """One Ctrip call to its answer document; never raises (Ctrip reads codes)."""
        if self.inbound is None or self.services is None:
            return self._unconfigured()
        inbound = self.inbound
        got = inbound.read(raw)
        if isinstance(got, Refusal):
            return inbound.refuse(got)
        return await inbound.dispatch(got, self.services.table())

"""The Douyin channel: one POST route per SPI, and the certificate verify callbacks.

Protocol work comes from ``douyin.toml`` (this folder) through the hub's generic
`hub.channels.adapter.SpecInbound` (``x-life-sign`` sha256 with the legacy md5 ``sign``
fallback, the millisecond ``timestamp`` window, the ``{"data": {...}}`` answers); this
module adds what the spec cannot say: the ``x-life-clientkey`` account header, the SPI
handlers (`spi`) and the OpenAPI calls (`openapi`, `certificates`).

Routes: ``POST /api/channels/douyin/{operation}`` with operation one of the spec's
operations (``can_buy``, ``create_order``, ``pay_notify``, ``cancel_notify``,
``refund_audit``, ``refund_notify``, ``query``) — the URLs we register with Douyin.

Settings (``TICKETHUB_CHANNEL_SETTINGS`` → ``douyin``): ``DOUYIN_CLIENT_KEY`` and
``DOUYIN_CLIENT_SECRET`` (SPI signatures and the OpenAPI token), ``DOUYIN_OPENAPI_URL``
(Douyin's OpenAPI base; without it no verify is queued), ``DOUYIN_POI_ID`` (the store
the vouchers are verified at), ``DOUYIN_REFUND_RULE`` (``unused`` — default: any unused
voucher —, ``before_visit`` or ``never``).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web

from hub.sdk import ChannelContext, DeliveryError, PartnerCall
from hub.sdk.channels import (
    ChannelSpec,
    Refusal,
    RetryPolicy,
    SecretsMissing,
    SpecInbound,
    callback_policies,
    http_call,
)
from hub.sdk.web import partner_body
from plugins.channel_douyin import certificates, part_refunds, protocol
from plugins.channel_douyin.certificates import VERIFY, Verifier, VerifyPolicy
from plugins.channel_douyin.openapi import OpenApi, OpenApiNotConfigured
from plugins.channel_douyin.spi import DouyinSpi

log = logging.getLogger(__name__)

CLIENT_KEY_HEADER = "x-life-clientkey"


class DouyinChannel:
    name = "douyin"

    def __init__(self, spec: ChannelSpec | None = None) -> None:
        self.spec = spec or protocol.spec()
        self.inbound: SpecInbound | None = None
        self.spi: DouyinSpi | None = None
        self.api: OpenApi | None = None
        self.verifier: Verifier | None = None
        self.client_key = ""
        self._policies: dict[str, RetryPolicy] = callback_policies(self.spec)
        cb = self.spec.callbacks.get(VERIFY)
        if cb is not None:
            self._policies[VERIFY] = VerifyPolicy(**cb.retry_policy().model_dump())

    def retry_policy_for(self, kind: str) -> RetryPolicy | None:
        """Douyin's verify schedule (5 × 5 s, then every 40 s), asked per call kind."""
        return self._policies.get(kind)

    async def deliver(self, call: PartnerCall) -> None:
        if self.verifier is None or self.api is None:
            raise DeliveryError("douyin OpenAPI is not configured", retryable=False)
        if call.kind == part_refunds.PART_REFUND:
            await part_refunds.deliver(self.api, self.verifier.ctx, call)
            return
        await self.verifier.deliver(call)

    def setup(self, ctx: ChannelContext) -> None:
        settings = ctx.settings
        try:
            self.inbound = SpecInbound(
                self.spec, settings, clock=ctx.clock.now, protocols=ctx.protocols
            )
            self.client_key = str(settings["DOUYIN_CLIENT_KEY"])
            self.spi = DouyinSpi(
                self.spec,
                self.inbound,
                ctx,
                refund_rule=str(settings.get("DOUYIN_REFUND_RULE") or "unused"),
            )
        except SecretsMissing as exc:
            # A hub without Douyin credentials still starts; Douyin gets 100 until then.
            log.warning("douyin channel not configured: %s", exc)
        try:
            self.api = OpenApi(self.spec, settings, clock=ctx.clock.now, http=lambda: ctx.http)
            self.verifier = Verifier(self.api, ctx, poi_id=str(settings.get("DOUYIN_POI_ID", "")))
        except OpenApiNotConfigured as exc:
            log.info("douyin certificate verify not configured: %s", exc)
        certificates.HOOKS.callbacks = self.verifier is not None and self.spi is not None

        @ctx.routes.post(
            f"/api/channels/{self.name}/{{operation}}",
            summary="Douyin scenic SPI (can_buy, create_order, pay_notify, cancel_notify, "
            "refund_audit, refund_notify, query, stock_calendar)",
            tag="douyin",
            body=partner_body("Douyin's SPI request, signed in the headers"),
            responses={200: 'always: Douyin reads data.error_code ({"data": {...}})'},
        )
        async def endpoint(request: web.Request) -> web.Response:
            answer = await self.handle(request)
            return web.json_response(answer, dumps=_dumps)

    def _unconfigured(self) -> dict[str, Any]:
        entry = self.spec.result_entry("INTERNAL")
        return {"data": {"error_code": entry.code, "description": "supplier not configured"}}

    async def handle(self, request: web.Request) -> dict[str, Any]:
        """One SPI call to its answer document; never raises (Douyin reads codes)."""
        if self.inbound is None or self.spi is None:
            return self._unconfigured()
        inbound = self.inbound
        tail = request.match_info["operation"]
        operation = self.spec.operation_for_path(tail)
        call = await http_call(request, operation=tail)
        if call is None:
            return inbound.answer("PARSE_ERROR", operation, detail="body too large")
        if call.header(CLIENT_KEY_HEADER) != self.client_key:
            return inbound.answer("BAD_ACCOUNT", operation, detail="x-life-clientkey")
        got = inbound.read(call)
        if isinstance(got, Refusal):
            return inbound.refuse(got, operation)
        return await inbound.dispatch(got, self.spi.table(), unknown=f"no SPI {tail!r}")


def _dumps(doc: Any) -> str:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))

"""The Fliggy channel: Fliggy's calls to us from the spec, our TOP calls to Fliggy.

Inbound is the generic spec-only channel (`hub.channels.generic.SpecChannel`): every
operation of ``fliggy.toml`` (this folder) (``create`` = a paid order, ``cancel``,
``query``, ``refund``) is a move of the order service, idempotent on Fliggy's order id,
checked and answered as the spec says. How Fliggy signs its calls to suppliers is not
public, so all of that is data in the spec (TOP-style query signature by default).

What the spec cannot say lives here: the TOP gateway calls (`plugins.channel_fliggy.top`), their
parameters (`callbacks`), and the ``refund_status = 2`` call when Fliggy's refund
request is refused — a refusal writes no order change, so no hub event would queue it.

Settings (``TICKETHUB_CHANNEL_SETTINGS`` → ``fliggy``): ``FLIGGY_APP_KEY``,
``FLIGGY_APP_SECRET`` (both directions), ``FLIGGY_TOP_URL`` (the TOP gateway, e.g.
``https://eco.taobao.com/router/rest``; without it no callback is queued) and optionally
``FLIGGY_SESSION`` (the seller's session key, sent as TOP's ``session``) and
``FLIGGY_CALLBACK_TIME_SCALE`` (sandboxes and demos only: every duration of the TOP
calls' schedule — attempt timeout, backoff, deadline — multiplied by it).
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from hub.sdk import ChannelContext, DeliveryError, Order, PartnerCall
from hub.sdk.channels import (
    ChannelSpec,
    Inbound,
    OutboundConfigError,
    SecretsMissing,
    SpecChannel,
    SpecInbound,
    callback_policies,
)
from hub.sdk.web import partner_body
from plugins.channel_fliggy import callbacks, protocol
from plugins.channel_fliggy.callbacks import REFUND, REFUND_FAILED, VERIFY
from plugins.channel_fliggy.stock import FliggyStockPusher
from plugins.channel_fliggy.top import TopOutbound

log = logging.getLogger(__name__)

# Answers to a refund request that are not a refund DECISION, so no refund_status 2 goes
# to TOP: a malformed, forged or unknown request is answered, but no refund "failed".
_NOT_A_REFUND_RESULT = {
    "PARSE_ERROR",
    "BAD_SIGN",
    "BAD_ACCOUNT",
    "INTERNAL",
    "INVALID_REQUEST",
    "UNKNOWN_ORDER",
    "IDEMPOTENCY_CONFLICT",  # the refund id's first request stands (and was answered)
}


def scaled_spec(spec: ChannelSpec, scale: float) -> ChannelSpec:
    """The spec with every callback duration multiplied by ``scale``."""
    calls = {}
    for kind, cb in spec.callbacks.items():
        r = cb.retry
        retry = r.model_copy(
            update={
                "initial_seconds": r.initial_seconds * scale,
                "max_seconds": r.max_seconds * scale,
                "jitter_seconds": r.jitter_seconds * scale,
                "deadline_seconds": r.deadline_seconds * scale,
            }
        )
        calls[kind] = cb.model_copy(
            update={"timeout_seconds": cb.timeout_seconds * scale, "retry": retry}
        )
    return spec.model_copy(update={"callbacks": calls})


class FliggyChannel(SpecChannel):
    name = "fliggy"

    def __init__(self, spec: ChannelSpec | None = None) -> None:
        super().__init__(spec or protocol.spec())
        self.top: TopOutbound | None = None

    def setup(self, ctx: ChannelContext) -> None:
        self.ctx = ctx
        settings = ctx.settings
        try:
            scale = float(settings.get("FLIGGY_CALLBACK_TIME_SCALE", 1.0))
        except (TypeError, ValueError):
            scale = 1.0
        if scale > 0 and scale != 1.0:
            self.spec = scaled_spec(self.spec, scale)
            self._policies = callback_policies(self.spec)
        try:
            self.inbound = SpecInbound(
                self.spec, settings, clock=ctx.clock.now, protocols=ctx.protocols
            )
        except SecretsMissing as exc:
            log.warning("fliggy channel not configured: %s", exc)
        if settings.get("FLIGGY_TOP_URL"):
            try:
                self.top = TopOutbound(self.spec, settings, clock=ctx.clock.now)
            except OutboundConfigError as exc:
                log.warning("fliggy callbacks not configured: %s", exc)
        callbacks.HOOKS.enabled = self.top is not None
        FliggyStockPusher.bind(self)

        @ctx.routes.post(
            f"/api/channels/{self.name}/{{operation:.+}}",
            tag=self.name,
            summary="Fliggy supplier API (create, cancel, query, refund; TOP-style signed)",
            body=partner_body("Fliggy's JSON body; app_key, timestamp and sign in the query"),
            responses={200: "always: Fliggy's result code is in 'code'"},
        )
        async def by_url(request: web.Request) -> web.Response:
            refused = self._foreign_app(request)
            if refused is not None:
                return refused
            return await self._serve(request, request.match_info["operation"])

    def _foreign_app(self, request: web.Request) -> web.Response | None:
        """TOP names the caller's app in the query (``app_key``): another app is refused
        as an unknown account even if it happens to sign with our secret."""
        app_key = self._c.settings.get("FLIGGY_APP_KEY")
        if self.inbound is None or not app_key or request.query.get("app_key") == app_key:
            return None
        raw, headers = self.inbound.render(self.inbound.answer("BAD_ACCOUNT", detail="app_key"))
        return web.Response(body=raw, headers=headers)

    # ------------------------------------------------------------------ inbound

    async def handle(self, call: Inbound) -> dict[str, Any]:
        """The spec-only channel's answer (a refund: everything left, or ``quantity``
        units under Fliggy's ``refund_id``, `hub.channels.refunds`), and a refused refund
        request reported to TOP."""
        doc = await super().handle(call)
        op = self.spec.operations.get(call.operation)
        if op is not None and op.canonical == "refund" and self.top is not None:
            await self._refused_refund(call, doc)
        return doc

    async def _refused_refund(self, call: Inbound, doc: dict[str, Any]) -> None:
        """A refused refund request also goes to TOP as ``refund_status = 2``; durable
        before the answer, queued once per request (its ``refund_id``, else its body)."""
        resp = self.spec.envelope.response
        code = str(doc.get(resp.code_path, ""))
        if code == str(resp.success_code):
            return
        ignored = {str(self.spec.result_entry(k).code) for k in _NOT_A_REFUND_RESULT}
        if code in ignored:
            return
        order = await self._find(call)
        if not isinstance(order, Order):
            return
        refused = callbacks.refund_call(order, REFUND_FAILED, f"req-{self.refund_id(call)}")
        if refused is None:
            return
        outbox = self._c.outbox
        async with outbox.engine.begin() as conn:
            await outbox.enqueue(conn, [refused])
        outbox.notify()

    # ------------------------------------------------------------------ callbacks

    async def deliver(self, call: PartnerCall) -> None:
        """TOP call with the order as it is NOW (cumulative totals stay right)."""
        if self.top is None:
            raise DeliveryError("fliggy: TOP callbacks not configured", retryable=False)
        order = await self._c.orders.get(str(call.payload["order_id"]))
        if order is None:
            raise DeliveryError(f"fliggy: order of {call.dedupe_key} is gone", retryable=False)
        if call.kind == VERIFY:
            params = callbacks.verify_params(self.spec, order, call, call.dedupe_key)
        elif call.kind == REFUND:
            params = callbacks.refund_params(self.spec, order, call, call.dedupe_key)
        else:
            raise DeliveryError(f"fliggy: unknown call kind {call.kind!r}", retryable=False)
        session = self._c.settings.get("FLIGGY_SESSION")
        if session:
            params["session"] = session
        await self.top.send(self._c.http, call.kind, params)

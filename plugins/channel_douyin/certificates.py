"""On redemption, tell Douyin the voucher was used: ``certificate/prepare`` then
``certificate/verify``, queued through the outbox from ``ticket_redeemed``.

The hook (run inside the redemption's transaction) only RETURNS the `PartnerCall`: one
per ticket (a multi-entry ticket is one Douyin certificate, verified at its first
admission), deduplicated on the ticket id so the bridge's retries queue it once.

Delivery is two requests and must be safe to repeat at any point:

1. ``prepare`` (GET ``?code=<voucher code>``) gives a ``verify_token`` and the
   certificates' ``encrypted_code``. They are written to the plugin store BEFORE the
   verify is sent, so a retry after a lost verify answer re-sends the SAME token —
   Douyin's idempotency key for the verify — instead of preparing anew.
2. ``verify`` (POST ``verify_token``, ``poi_id``, ``encrypted_codes``); Douyin dedupes
   on the token, so the at-least-once outbox never verifies a voucher twice.

A certificate Douyin refuses for good (already verified by someone else, refunded) is a
non-retryable `DeliveryError`: dead-lettered with Douyin's words for an operator.

The retry schedule is Douyin's own: 5 attempts 5 s apart, then every 40 s
(`VerifyPolicy`); the spec's exponential table is only its fallback.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pydantic import Field

from hub.sdk import DeliveryError, Order, PartnerCall, Redemption, Ticket
from hub.sdk.channels import RetryPolicy
from plugins.channel_douyin.openapi import OpenApi

log = logging.getLogger(__name__)

CHANNEL = "douyin"
VERIFY = "certificate_verify"
PREPARE = "certificate_prepare"
RETENTION = timedelta(days=30)


class VerifyPolicy(RetryPolicy):
    """Douyin's verify schedule exactly: ``fast_attempts`` retries ``initial_seconds``
    apart, then every ``max_seconds`` (the outbox only asks ``next_delay``)."""

    fast_attempts: int = Field(default=5, ge=0)

    def next_delay(self, attempt: int) -> float:
        if attempt < 1:
            raise ValueError("attempt numbers start at 1")
        return self.initial_seconds if attempt <= self.fast_attempts else self.max_seconds


@dataclass
class HookState:
    """Set by the channel's ``setup``: whether verify calls can be delivered at all."""

    callbacks: bool = False


HOOKS = HookState()


def verify_call(order: Order, ticket: Ticket, redemption: Redemption) -> PartnerCall | None:
    """The verify callback a Douyin ticket's admission causes (None for others)."""
    if order.channel != CHANNEL or not HOOKS.callbacks or not redemption.accepted:
        return None
    return PartnerCall(
        partner=CHANNEL,
        kind=VERIFY,
        dedupe_key=f"douyin:verify:{ticket.id}"[:200],
        payload={"order_id": order.id, "ticket_id": ticket.id, "redemption_id": redemption.id},
        order_id=order.id,
    )


@dataclass
class Verifier:
    """Delivers ``certificate_verify`` calls (the channel's ``deliver``)."""

    api: OpenApi
    ctx: Any
    poi_id: str = ""

    async def deliver(self, call: PartnerCall) -> None:
        if call.kind != VERIFY:
            raise DeliveryError(f"douyin: unknown call kind {call.kind!r}", retryable=False)
        ticket_id = str(call.payload["ticket_id"])
        order = await self.ctx.orders.get(str(call.payload["order_id"]))
        ticket = next((t for t in order.tickets if t.id == ticket_id), None) if order else None
        if ticket is None or not ticket.credential:
            raise DeliveryError(f"douyin: ticket {ticket_id} is gone", retryable=False)
        store = self.ctx.store(CHANNEL)
        prepared = await store.get("verify", ticket_id)
        if prepared is None:
            prepared = await self._prepare(ticket)
            await store.put("verify", ticket_id, prepared, ttl=RETENTION)
        if prepared.get("results") is not None:
            return  # verified by an earlier attempt whose bookkeeping was cut short
        body = {
            "verify_token": prepared["verify_token"],
            "poi_id": self.poi_id,
            "encrypted_codes": prepared["encrypted_codes"],
        }
        data = await self.api.call(VERIFY, "POST", body=body)
        results = data.get("verify_results")
        if not isinstance(results, list) or not results:
            raise DeliveryError("douyin verify: answer lacks verify_results")
        failed = [r for r in results if not isinstance(r, dict) or r.get("result") != 0]
        if failed:
            why = "; ".join(str(r.get("msg", r)) if isinstance(r, dict) else str(r) for r in failed)
            raise DeliveryError(f"douyin verify refused: {why}", retryable=False)
        done = {**prepared, "results": results}
        await store.put("verify", ticket_id, done, ttl=RETENTION)

    async def _prepare(self, ticket: Ticket) -> dict[str, Any]:
        data = await self.api.call(PREPARE, "GET", query={"code": ticket.credential})
        token = data.get("verify_token")
        certificates = data.get("certificates")
        if not isinstance(token, str) or not token or not isinstance(certificates, list):
            raise DeliveryError("douyin prepare: answer lacks verify_token/certificates")
        codes = [c.get("encrypted_code") for c in certificates if isinstance(c, dict)]
        if not codes or not all(isinstance(c, str) and c for c in codes):
            raise DeliveryError("douyin prepare: no certificate for this voucher", retryable=False)
        return {"verify_token": token, "encrypted_codes": codes}

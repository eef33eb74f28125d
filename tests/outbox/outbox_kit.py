"""Outbox test kit: a real partner HTTP server on 127.0.0.1 and an adapter that posts
to it with aiohttp (imported by the tests and by conftest.py)."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.clock import Clock
from hub.contracts import ChannelAdapter, ChannelContext, DeliveryError, PartnerCall
from hub.outbox import OutboxEntry, OutboxStore, OutboxWorker, RetryPolicy, policies_from

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)

FAST = RetryPolicy(
    timeout_seconds=0.3,
    initial_seconds=1,
    multiplier=2,
    max_seconds=30,
    jitter_seconds=0,
    deadline_seconds=3600,
)
"""Real 0.3 s attempt timeout; the backoff runs on the FixedClock, so no waiting."""


class PartnerServer:
    """A partner that answers as scripted per dedupe key, then ``default``.

    Answers: ``"ok"`` (200, the call LANDS and is counted), ``"503"``, ``"400"``
    (refused for good), ``"hang"`` (never answers until the test ends; the client's
    timeout closes the connection). Only ``ok`` counts in ``landed``: that is the
    partner-side ledger the exactly-once assertions read.
    """

    def __init__(self) -> None:
        self.default = "ok"
        self.script: dict[str, list[str]] = {}
        self.hits: Counter[str] = Counter()
        self.landed: Counter[str] = Counter()
        self.max_jitter_seconds = 0.0
        self.url = ""
        self._release = asyncio.Event()

    def plan(self, key: str, *answers: str) -> None:
        self.script[key] = list(answers)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        key = body["dedupe_key"]
        self.hits[key] += 1
        answers = self.script.get(key)
        answer = answers.pop(0) if answers else self.default
        if self.max_jitter_seconds:
            await asyncio.sleep(random.uniform(0, self.max_jitter_seconds))
        if answer == "hang":
            await self._release.wait()
            return web.json_response({"error": "too late"}, status=504)
        if answer in ("503", "400"):
            return web.json_response({"error": answer}, status=int(answer))
        self.landed[key] += 1
        return web.json_response({"ok": True})

    def release(self) -> None:
        self._release.set()


class HttpPartner:
    """A channel adapter whose ``deliver`` posts the call to the partner server."""

    def __init__(
        self,
        name: str,
        session: aiohttp.ClientSession,
        url: str,
        retry_policy: RetryPolicy = FAST,
    ) -> None:
        self.name = name
        self.session = session
        self.url = url
        self.retry_policy = retry_policy

    def setup(self, ctx: ChannelContext) -> None:
        return None

    async def deliver(self, call: PartnerCall) -> None:
        body: dict[str, Any] = {
            "dedupe_key": call.dedupe_key,
            "kind": call.kind,
            "payload": dict(call.payload),
        }
        async with self.session.post(self.url, json=body) as resp:
            if resp.status == 200:
                return
            raise DeliveryError(f"partner answered {resp.status}", retryable=resp.status >= 500)


def call(key: str, partner: str = "acme", **kw: Any) -> PartnerCall:
    return PartnerCall(
        partner=partner,
        kind=kw.pop("kind", "order_confirmed"),
        dedupe_key=key,
        payload=kw.pop("payload", {"order": key, "visitor": {"id_number": "110101199003071234"}}),
        **kw,
    )


async def enqueue(
    engine: AsyncEngine, calls: list[PartnerCall], now: datetime, policy: RetryPolicy = FAST
) -> int:
    """Queue calls in their own transaction, as the order pipeline would."""
    async with engine.begin() as conn:
        return await OutboxStore.enqueue(conn, calls, now=now, policy_for=lambda _p: policy)


def make_worker(
    engine: AsyncEngine,
    clock: Clock,
    adapters: dict[str, ChannelAdapter],
    *,
    worker_id: str = "w1",
    **kw: Any,
) -> OutboxWorker:
    """A worker that finds adapters in ``adapters`` and their ``retry_policy``."""
    return OutboxWorker(
        engine,
        deliverer=adapters.get,
        policy_for=policies_from(adapters.get),
        clock=clock,
        worker_id=worker_id,
        **kw,
    )


async def rows(engine: AsyncEngine) -> dict[str, OutboxEntry]:
    """Every row, by dedupe key."""
    return {e.dedupe_key: e for e in await OutboxStore.list_calls(engine, limit=10_000)}

"""A partner's callback endpoint that fails on purpose, for the conformance kit.

It answers the first attempts with what partners really do when they are in trouble —
a 5xx, or nothing until the caller gives up — then succeeds, and records every attempt
with the identity the probe reads from it, so the kit can tell a retry of the same
callback (fine) from a second callback for the same event (a duplicate) and from an
attempt after the partner already said yes (a wasted, possibly harmful, repeat).

A request the probe names as a preparatory step (identity None: a token fetch, a lookup
before the call that changes the partner's state) is answered by the probe, recorded in
`steps`, and neither faulted nor counted: the faults are spent on the callback itself.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web
from aiohttp.test_utils import TestServer

from hub.testing.conformance.probe import Answer, ReceivedCall

Fault = Literal["5xx", "timeout"]


@dataclass(slots=True)
class Attempt:
    identity: str
    outcome: Literal["5xx", "timeout", "ok", "forged"]


@dataclass
class CallbackReceiver:
    """`faults` are played in order, one per attempt, before every attempt succeeds.

    `identify` and `answer` come from the probe; `hang_seconds` must exceed the
    timeout the kit gives the outbox, so a "timeout" really is one."""

    identify: Callable[[ReceivedCall], str | None]
    answer: Callable[[ReceivedCall], Answer]
    faults: list[Fault] = field(default_factory=list)
    hang_seconds: float = 1.0
    attempts: list[Attempt] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)
    acknowledged: Counter[str] = field(default_factory=Counter)
    _server: TestServer | None = None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        call = ReceivedCall(
            request.method,
            request.path,
            request.query,
            request.headers,
            await request.read(),
            request.raw_path,
        )
        try:
            identity = self.identify(call)
        except ValueError:
            self.attempts.append(Attempt("?", "forged"))
            return web.Response(status=401, text="not authentic")
        if identity is None:
            self.steps.append(f"{call.method} {call.path}")
            return self._respond(call)
        if self.faults:
            fault = self.faults.pop(0)
            self.attempts.append(Attempt(identity, fault))
            if fault == "timeout":
                await asyncio.sleep(self.hang_seconds)
                return web.Response(status=504)
            return web.Response(status=503, text="partner busy")
        self.attempts.append(Attempt(identity, "ok"))
        self.acknowledged[identity] += 1
        return self._respond(call)

    def _respond(self, call: ReceivedCall) -> web.Response:
        status, headers, raw = self.answer(call)
        return web.Response(status=status, headers=dict(headers), body=raw)

    async def start(self) -> str:
        """Listen on 127.0.0.1; returns the base URL (no trailing slash)."""
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._server = TestServer(app, host="127.0.0.1")
        await self._server.start_server()
        return str(self._server.make_url("")).rstrip("/")

    async def close(self) -> None:
        if self._server is not None:
            await self._server.close()

    def after_ack(self) -> list[Attempt]:
        """Attempts for an identity that had already been acknowledged."""
        seen: set[str] = set()
        late: list[Attempt] = []
        for attempt in self.attempts:
            if attempt.identity in seen:
                late.append(attempt)
            if attempt.outcome == "ok":
                seen.add(attempt.identity)
        return late

    def summary(self) -> dict[str, Any]:
        return {
            "attempts": [(a.identity, a.outcome) for a in self.attempts],
            "acknowledged": dict(self.acknowledged),
            "steps": len(self.steps),
            "faults_left": list(self.faults),
        }

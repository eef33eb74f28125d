"""How partners repeat one request: re-sent byte for byte while an attempt fails (their
retries), or pushed several times at once (their duplicated pushes). The same for every
partner that repeats identical bytes; only what counts as "busy, try again" differs."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

Req = TypeVar("Req")
Reply = TypeVar("Reply")

TRANSPORT_FAILURES = (AssertionError, OSError, TimeoutError, ValueError)
"""An attempt that got no usable answer: no connection, a timeout, not HTTP 200, garbage."""


async def resend_identical(
    send: Callable[[Req], Awaitable[Reply]],
    request: Req,
    *,
    retries: int,
    busy: Callable[[Reply], str | None],
    label: str,
) -> Reply:
    """`request` sent, and re-sent identically at most `retries` more times while an
    attempt fails or `busy` explains why the partner's answer asks for another try."""
    last: Exception | None = None
    for _ in range(1 + retries):
        try:
            reply = await send(request)
        except TRANSPORT_FAILURES as exc:
            last = exc
            continue
        why = busy(reply)
        if why is None:
            return reply
        last = AssertionError(f"{label}: {why}")
    raise AssertionError(f"{label} failed after {retries} retries: {last}")


async def pushed_at_once(
    send: Callable[[Req], Awaitable[Reply]], request: Req, times: int
) -> list[Reply]:
    """The same request pushed `times` times at once; the answers in push order."""
    return list(await asyncio.gather(*(send(request) for _ in range(times))))

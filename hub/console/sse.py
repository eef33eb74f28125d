"""Server-sent events for console pages (aiohttp-sse), with htmx's SSE extension on the
page side.

A handler turns an async iterator of ``(event name, data)`` into a stream::

    @routes.get("/events/wall", name="console.wall_events")
    @require_role(Role.viewer)
    async def wall_events(request):
        async def events():
            async for _ in periodic(2.0):          # or wait on your own notifier
                yield "gauge", render_string("wall_gauge.html", request, {...})
        return await stream(request, events())

and the page listens with ``<div hx-ext="sse" sse-connect="{{ url('console.wall_events') }}"
sse-swap="gauge">``. Streams are cancelled when the hub shuts down (an open stream would
otherwise hold a graceful shutdown for its whole timeout), and end when the client goes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from aiohttp import web
from aiohttp_sse import sse_response

PING_SECONDS = 15.0


async def periodic(seconds: float) -> AsyncIterator[int]:
    """0 at once, then 1, 2, … every ``seconds`` (the first event needs no wait)."""
    n = 0
    while True:
        yield n
        n += 1
        await asyncio.sleep(seconds)


async def stream(
    request: web.Request,
    events: AsyncIterator[tuple[str, str]],
    *,
    ping_seconds: float = PING_SECONDS,
) -> web.StreamResponse:
    """Send each ``(event, data)`` of ``events`` until the client leaves or the hub stops."""
    from hub.console.web import console_of  # (web imports nothing of this module's)

    streams = console_of(request).streams
    task = asyncio.current_task()
    assert task is not None
    streams.add(task)
    try:
        async with sse_response(request, ping_interval=ping_seconds) as resp:
            async for name, data in events:
                if not resp.is_connected():
                    break
                await resp.send(data, event=name)
        return resp
    finally:
        streams.discard(task)

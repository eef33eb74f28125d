"""How a tickethub process runs, whichever it is — a hub (`tickethub serve`), a venue
bridge (`tickethub bridge run`), the benchmark's baseline server — and how a one-shot
async command (bench, demo) runs: the same logging, the same event loop, the same clean
stop, so what one process does on SIGTERM the others do too.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from aiohttp import web

from hub import logformat, logmask
from hub.config import ConfigError

T = TypeVar("T")


def setup_logging(level: str, fmt: str | None = None) -> None:
    """Time, level and logger on every line, as text or as JSON (``fmt``, default
    ``TICKETHUB_LOG_FORMAT``, else text); the id of the request a record belongs to on
    it (`hub.logformat`); personal data masked before any handler writes it
    (`hub.logmask`). aiohttp's own access log stays quiet: the hub writes its own
    (``hub.access``, `hub.api.middleware`), with the route and the request id."""
    kind = (fmt or os.environ.get("TICKETHUB_LOG_FORMAT") or "text").strip().lower()
    try:
        chosen = logformat.formatter(kind)
    except ValueError:
        raise ConfigError(f"TICKETHUB_LOG_FORMAT must be 'text' or 'json', not {kind!r}") from None
    handler = logging.StreamHandler()
    handler.setFormatter(chosen)
    logging.basicConfig(level=level.upper(), handlers=[handler])
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    for h in logging.getLogger().handlers:
        if not any(isinstance(f, logformat.RequestIdFilter) for f in h.filters):
            h.addFilter(logformat.RequestIdFilter())
    logmask.install()


def run_async(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` to its end on uvloop, the loop every measurement in the README used."""
    import uvloop

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


async def serve_until_signalled(
    app: web.Application,
    host: str,
    port: int,
    *,
    backlog: int = 128,
    started: Callable[[], None] | None = None,
) -> None:
    """Serve ``app`` until SIGTERM or SIGINT, then close its connections and run its
    cleanup (engines disposed, drivers stopped): a service manager's stop and Ctrl-C
    both end the process cleanly. ``started`` runs once the port is open."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await web.TCPSite(runner, host, port, backlog=backlog).start()
        if started is not None:
            started()
        await stop.wait()
    finally:
        await runner.cleanup()

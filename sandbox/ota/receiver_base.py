"""What the sandbox partners receiving our callbacks share: a listener on 127.0.0.1 and
the planned faults of the transport, which are the same whatever the partner's protocol.

A fault is consumed per incoming call, in the order planned: the calls of one kind
(`fail_for`, e.g. a Ctrip ``serviceName``) meet their own faults first, then the common
queue (`fail`). The transport faults, handled here before the partner's own checks:

``"timeout"``  hold the call until the receiver closes (the sender's timeout fires)
``"500"``      answer that HTTP status (any 5xx number works)
``"slow:S"``   wait S seconds, then handle the call normally
``"ok"``       no fault (to place a fault after some successful calls)

Anything else (``"code:C"``) is for the partner's answer: `transport_fault` lets the
call through and the receiver reads the fault itself.
"""

from __future__ import annotations

import asyncio
from collections import deque

from aiohttp import web


class FaultyReceiver:
    """The listener and fault queues of a sandbox receiver (``close`` when done)."""

    def __init__(self) -> None:
        self.faults: deque[str] = deque()
        self.keyed_faults: dict[str, deque[str]] = {}
        self.hits = 0
        self.url = ""
        self._release = asyncio.Event()
        self._runner: web.AppRunner | None = None

    def fail(self, *faults: str) -> None:
        """The next calls (whatever their kind) meet these faults, in order."""
        self.faults.extend(faults)

    def fail_for(self, key: str, *faults: str) -> None:
        """The next calls of one kind meet these faults before the common ones."""
        self.keyed_faults.setdefault(key, deque()).extend(faults)

    def next_fault(self, key: str | None = None) -> str | None:
        own = self.keyed_faults.get(key) if key is not None else None
        if own:
            return own.popleft()
        return self.faults.popleft() if self.faults else None

    async def transport_fault(self, fault: str | None) -> web.StreamResponse | None:
        """The answer a transport fault gives instead of the partner's, or None when
        the call goes on to the partner's checks (no fault, after ``slow:S``, a code)."""
        if fault == "timeout":
            await self._release.wait()
            return web.Response(status=504)
        if fault is not None and fault.isdigit():
            return web.json_response({"error": "server error"}, status=int(fault))
        if fault is not None and fault.startswith("slow:"):
            await asyncio.sleep(float(fault.removeprefix("slow:")))
        return None

    async def listen(self, app: web.Application, path: str = "") -> str:
        """Serve `app` on a free loopback port; returns (and keeps) its URL + `path`."""
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None and server.sockets  # type: ignore[attr-defined]
        port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{port}{path}"
        return self.url

    async def close(self) -> None:
        """Release held calls (their senders see a 504) and stop listening."""
        self._release.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

"""What every sandbox alert receiver shares: a real aiohttp server on loopback (port 0),
the received messages, a per-minute rate limit on the injected clock, and failures a test
can ask for (the next N requests answered with a 5xx)."""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta
from typing import Any

import orjson
from aiohttp import web

from hub.clock import Clock


class Receiver:
    """Base of the robot receivers; subclasses add the route and the checks."""

    def __init__(self, clock: Clock, *, per_minute: int = 20) -> None:
        self.clock = clock
        self.per_minute = per_minute
        self.received: list[dict[str, Any]] = []  # accepted message bodies
        self.refused: list[dict[str, Any]] = []  # the answers of refused requests
        self.fail_next: deque[int] = deque()  # HTTP statuses for the next requests
        self._accepted_at: deque[datetime] = deque()
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    async def start(self) -> str:
        app = web.Application()
        self.routes(app)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}"
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- helpers for subclasses -------------------------------------------------------
    def injected_failure(self) -> web.Response | None:
        if self.fail_next:
            status = self.fail_next.popleft()
            return web.Response(status=status, text="sandbox: injected failure")
        return None

    def over_limit(self) -> bool:
        """True when ``per_minute`` messages were accepted in the last minute."""
        now = self.clock.now()
        while self._accepted_at and now - self._accepted_at[0] >= timedelta(minutes=1):
            self._accepted_at.popleft()
        return len(self._accepted_at) >= self.per_minute

    def accept(self, body: dict[str, Any]) -> None:
        self._accepted_at.append(self.clock.now())
        self.received.append(body)

    def refuse(self, answer: dict[str, Any], status: int = 200) -> web.Response:
        self.refused.append(answer)
        return web.json_response(answer, status=status)

    @staticmethod
    def parse(raw: bytes) -> dict[str, Any] | None:
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return None
        return body if isinstance(body, dict) else None

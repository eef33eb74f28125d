"""Sandbox receiver of the generic signed webhook: checks
``X-Tickethub-Signature: t=…,v1=…`` (HMAC-SHA256 over ``f"{t}.{body}"``), refuses a ``t``
older than five minutes (replays), and keeps one copy per ``X-Tickethub-Delivery``."""

from __future__ import annotations

import hashlib
import hmac

from aiohttp import web

from hub.clock import Clock
from sandbox.alerts.base import Receiver

TOLERANCE_SECONDS = 300


class WebhookReceiver(Receiver):
    def __init__(self, clock: Clock, *, secret: str = "sandbox-webhook", per_minute: int = 60):
        super().__init__(clock, per_minute=per_minute)
        self.secret = secret
        self.deliveries: set[str] = set()

    @property
    def url(self) -> str:
        return f"{self.base_url}/hook"

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/hook", self.hook)

    def _valid(self, header: str, raw: bytes) -> bool:
        parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
        t, v1 = parts.get("t", ""), parts.get("v1", "")
        if not t.isdigit() or abs(self.clock.now().timestamp() - int(t)) > TOLERANCE_SECONDS:
            return False
        mac = hmac.new(self.secret.encode(), t.encode() + b"." + raw, hashlib.sha256)
        return hmac.compare_digest(mac.hexdigest(), v1)

    async def hook(self, request: web.Request) -> web.Response:
        if (failed := self.injected_failure()) is not None:
            return failed
        raw = await request.read()
        if not self._valid(request.headers.get("X-Tickethub-Signature", ""), raw):
            return self.refuse({"error": "bad signature"}, status=401)
        body = self.parse(raw)
        if body is None:
            return self.refuse({"error": "not JSON"}, status=400)
        if self.over_limit():
            return self.refuse({"error": "rate limited"}, status=429)
        delivery = request.headers.get("X-Tickethub-Delivery", "")
        if delivery and delivery in self.deliveries:
            return web.json_response({"ok": True, "duplicate": True})
        self.deliveries.add(delivery)
        self.accept(body)
        return web.json_response({"ok": True})

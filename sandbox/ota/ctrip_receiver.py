"""A sandbox Ctrip receiving our callbacks, exactly as Ctrip would.

It listens on 127.0.0.1, checks each call the way Ctrip does — its envelope, our
``accountId``, the MD5 ``sign`` over ``accountId + serviceName + requestTime + body +
version + signKey`` (body encrypted), then decrypts the a–p AES body — and answers in
Ctrip's envelope (``0000`` or its error codes). Written from the public facts with the
codecs only (never the hub's outbound module), so a test through it checks the hub
against Ctrip's protocol rather than against itself.

It records every attempt (`received`) and every call it ACCEPTED (`accepted`); a call
counts only once Ctrip answered success, as in production. `duplicates` lists accepted
calls whose ``(serviceName, sequenceId)`` — or whose exact content — was already
accepted: the "nothing sent twice" ledger tests read.

Faults, consumed one per incoming call in the order planned (`fail`), or per service
(`fail_service`):

``"timeout"``  hold the call until the receiver closes (the sender's timeout fires)
``"500"``      answer HTTP 500 (any ``"5xx"`` code works)
``"slow:S"``   wait S seconds, then handle the call normally
``"code:C"``   answer Ctrip result code C (e.g. ``code:1100`` busy, ``code:0002``)
``"ok"``       no fault (to place a fault after some successful calls)
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections import Counter, deque
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from hub.channels.codecs import CodecError, ctrip_decrypt, ctrip_sign, verify_hex


@dataclass(frozen=True, slots=True)
class Received:
    """One callback as Ctrip read it."""

    service: str
    sequence_id: str
    body: Any
    request_time: str
    code: str  # what Ctrip answered ("" when it answered no envelope: 5xx / timeout)

    @property
    def content(self) -> str:
        """The call's identity by content: service and decrypted body."""
        blob = json.dumps([self.service, self.body], sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()


class CtripReceiver:
    """Ctrip's callback endpoint (``start`` → its URL; ``close`` when done)."""

    def __init__(self, account_id: str, sign_key: str, aes_key: str, aes_iv: str) -> None:
        self.account_id = account_id
        self.sign_key = sign_key
        self.aes_key = aes_key
        self.aes_iv = aes_iv
        self.received: list[Received] = []
        self.accepted: list[Received] = []
        self.duplicates: list[Received] = []
        self.faults: deque[str] = deque()
        self.service_faults: dict[str, deque[str]] = {}
        self.hits = 0
        self.attempts: Counter[str] = Counter()  # per serviceName, faults included
        self._release = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.url = ""

    # ------------------------------------------------------------------ control

    def fail(self, *faults: str) -> None:
        """The next calls (whatever their service) meet these faults, in order."""
        self.faults.extend(faults)

    def fail_service(self, service: str, *faults: str) -> None:
        self.service_faults.setdefault(service, deque()).extend(faults)

    def of(self, service: str) -> list[Received]:
        """Accepted calls of one service, in arrival order."""
        return [r for r in self.accepted if r.service == service]

    async def start(self, path: str = "/ctrip/callback") -> str:
        app = web.Application()
        app.router.add_post(path, self.handle)
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
        self._release.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ------------------------------------------------------------------ Ctrip's side

    @staticmethod
    def _envelope(code: str, message: str) -> web.Response:
        return web.json_response({"header": {"resultCode": code, "resultMessage": message}})

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.hits += 1
        raw = await request.read()
        try:
            doc = json.loads(raw)
            header = doc["header"]
            service = str(header["serviceName"])
            fields = [header["accountId"], service, header["requestTime"], doc["body"]]
            fields.append(header["version"])
            given = header["sign"]
        except (ValueError, KeyError, TypeError):
            return self._envelope("0001", "parse error")
        self.attempts[service] += 1
        fault = self._next_fault(service)
        if fault == "timeout":
            await self._release.wait()
            return web.Response(status=504)
        if fault is not None and fault.isdigit():
            return web.json_response({"error": "server error"}, status=int(fault))
        if fault is not None and fault.startswith("slow:"):
            await asyncio.sleep(float(fault.removeprefix("slow:")))
        if not all(isinstance(f, str) for f in fields) or not isinstance(given, str):
            return self._envelope("0001", "parse error")
        if header["accountId"] != self.account_id:
            return self._envelope("0003", "bad account")
        if not verify_hex(ctrip_sign(*fields, self.sign_key), given):
            return self._envelope("0002", "bad sign")
        try:
            body = json.loads(ctrip_decrypt(doc["body"], self.aes_key, self.aes_iv))
        except (CodecError, ValueError):
            return self._envelope("0001", "body does not decrypt")
        code = fault.removeprefix("code:") if fault and fault.startswith("code:") else "0000"
        seen = Received(
            service,
            str(body.get("sequenceId", "")) if isinstance(body, dict) else "",
            body,
            str(header["requestTime"]),
            code,
        )
        self.received.append(seen)
        if code != "0000":
            return self._envelope(code, "refused by the sandbox")
        ids = {(r.service, r.sequence_id) for r in self.accepted}
        contents = {r.content for r in self.accepted}
        if (seen.service, seen.sequence_id) in ids or seen.content in contents:
            self.duplicates.append(seen)
        self.accepted.append(seen)
        return self._envelope("0000", "success")

    def _next_fault(self, service: str) -> str | None:
        own = self.service_faults.get(service)
        if own:
            return own.popleft()
        return self.faults.popleft() if self.faults else None

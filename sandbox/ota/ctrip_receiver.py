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
(`fail_service`): the transport's (``"timeout"``, ``"500"``, ``"slow:S"``, ``"ok"``; see
`sandbox.ota.receiver_base`) and ``"code:C"``, answer Ctrip result code C (e.g.
``code:1100`` busy, ``code:0002``).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from hub.channels.codecs import CodecError, verify_hex
from plugins.channel_ctrip.protocol import ctrip_decrypt, ctrip_sign
from sandbox.ota.receiver_base import FaultyReceiver
from sandbox.ota.stock_book import StockBook


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


class CtripReceiver(FaultyReceiver):
    """Ctrip's callback endpoint (``start`` → its URL; ``close`` when done)."""

    def __init__(self, account_id: str, sign_key: str, aes_key: str, aes_iv: str) -> None:
        super().__init__()
        self.account_id = account_id
        self.sign_key = sign_key
        self.aes_key = aes_key
        self.aes_iv = aes_iv
        self.received: list[Received] = []
        self.accepted: list[Received] = []
        self.duplicates: list[Received] = []
        self.attempts: Counter[str] = Counter()  # per serviceName, faults included
        # DateInventoryModify: under 100 calls a minute; per-resource window set by tests
        self.stock = StockBook(per_minute=99)

    # ------------------------------------------------------------------ control

    def fail_service(self, service: str, *faults: str) -> None:
        """The next calls of one service meet these faults, before the common ones."""
        self.fail_for(service, *faults)

    def of(self, service: str) -> list[Received]:
        """Accepted calls of one service, in arrival order."""
        return [r for r in self.accepted if r.service == service]

    async def start(self, path: str = "/ctrip/callback") -> str:
        app = web.Application()
        app.router.add_post(path, self.handle)
        return await self.listen(app, path)

    # ------------------------------------------------------------------ Ctrip's side

    @staticmethod
    def _envelope(code: str, message: str) -> web.Response:
        return web.json_response({"header": {"resultCode": code, "resultMessage": message}})

    def check(self, raw: bytes) -> tuple[str, str, dict[str, Any], Any]:
        """Ctrip's checks of one call: ``(code, message, header, body)``; code ``0000``
        = authentic (envelope well formed, our accountId, the md5 sign, a body that
        decrypts). The conformance probe asks the same question (`CtripProbe`)."""
        try:
            doc = json.loads(raw)
            header = doc["header"]
            fields = [header["accountId"], header["serviceName"], header["requestTime"]]
            fields += [doc["body"], header["version"]]
            given = header["sign"]
        except (ValueError, KeyError, TypeError):
            return "0001", "parse error", {}, None
        if not all(isinstance(f, str) for f in fields) or not isinstance(given, str):
            return "0001", "parse error", header, None
        if header["accountId"] != self.account_id:
            return "0003", "bad account", header, None
        if not verify_hex(ctrip_sign(*fields, self.sign_key), given):
            return "0002", "bad sign", header, None
        try:
            body = json.loads(ctrip_decrypt(doc["body"], self.aes_key, self.aes_iv))
        except (CodecError, ValueError):
            return "0001", "body does not decrypt", header, None
        return "0000", "success", header, body

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.hits += 1
        raw = await request.read()
        try:  # the service, to plan its faults; everything else is `check`'s
            service = str(json.loads(raw)["header"]["serviceName"])
        except (ValueError, KeyError, TypeError):
            return self._envelope("0001", "parse error")
        self.attempts[service] += 1
        # Stock pushes meet only the faults planned for their service: an outage planned
        # for the order callbacks must not be used up by stock traffic.
        if service == "DateInventoryModify":
            keyed = self.keyed_faults.get(service)
            fault = keyed.popleft() if keyed else None
        else:
            fault = self.next_fault(service)
        failed = await self.transport_fault(fault)
        if failed is not None:
            return failed
        verdict, message, header, body = self.check(raw)
        if verdict != "0000":
            return self._envelope(verdict, message)
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
        if service == "DateInventoryModify" and isinstance(body, dict):
            resource = str(body.get("supplierOptionId", ""))
            why = self.stock.admit(resource)
            if why is not None:  # Ctrip's code for it is not public: a sandbox code
                return self._envelope("0429", f"too frequent: {why}")
            rows = body.get("inventorys") or []
            self.stock.record(resource, [(str(r["date"]), "", int(r["quantity"])) for r in rows])
        ids = {(r.service, r.sequence_id) for r in self.accepted}
        contents = {r.content for r in self.accepted}
        if (seen.service, seen.sequence_id) in ids or seen.content in contents:
            self.duplicates.append(seen)
        self.accepted.append(seen)
        return self._envelope("0000", "success")

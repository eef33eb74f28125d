"""A sandbox Ctrip: builds supplier requests exactly as Ctrip does and reads the answers.

Written from the public facts (``shared/reference/channels.md#ctrip``) with the codecs in
`plugins.channel_ctrip.protocol`, never with the hub's adapter, so a test through this client checks
the hub against Ctrip's protocol rather than against itself. Ctrip retries a call three
times with the identical request and expects the identical answer: `retry` does that.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from plugins.channel_ctrip.protocol import ctrip_decrypt, ctrip_encrypt, ctrip_sign
from sandbox.ota.ctrip_receiver import CtripReceiver, Received
from sandbox.ota.resend import pushed_at_once, resend_identical
from sandbox.ota.settlement import SettlementBook

__all__ = ["CtripClient", "CtripReceiver", "CtripReply", "Received"]

VERSION = "1.0"


@dataclass(frozen=True, slots=True)
class CtripReply:
    """Ctrip's reading of an answer: code, message, the decrypted body (or None)."""

    code: str
    message: str
    body: Any
    raw: bytes

    @property
    def ok(self) -> bool:
        return self.code == "0000"


@dataclass
class CtripClient:
    base_url: str
    account_id: str
    sign_key: str
    aes_key: str
    aes_iv: str
    http: Any
    path: str = "/api/channels/ctrip"
    now: Callable[[], datetime] = field(default=datetime.now)
    settlement: SettlementBook = field(default_factory=lambda: SettlementBook("ctrip"))

    def build(
        self,
        service: str,
        body: Any,
        *,
        request_time: str | None = None,
        raw: bytes | None = None,
    ) -> bytes:
        """The exact bytes Ctrip posts: a–p cipher body, md5 sign over the six fields.
        ``raw``: these plain bytes encrypted as the body instead of ``body``'s JSON."""
        plain = (
            raw
            if raw is not None
            else json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        )
        cipher = ctrip_encrypt(plain, self.aes_key, self.aes_iv)
        when = request_time or self.now().strftime("%Y-%m-%d %H:%M:%S")
        sign = ctrip_sign(self.account_id, service, when, cipher, VERSION, self.sign_key)
        header = {
            "accountId": self.account_id,
            "serviceName": service,
            "requestTime": when,
            "version": VERSION,
            "sign": sign,
        }
        return json.dumps({"header": header, "body": cipher}).encode("utf-8")

    async def send_raw(self, data: bytes) -> CtripReply:
        """Post bytes as they are (tests tamper with them) and decode the answer."""
        resp = await self.http.post(
            f"{self.base_url}{self.path}",
            data=data,
            headers={"Content-Type": "application/json; charset=utf-8"},
        )
        if resp.status != 200:
            raise AssertionError(f"Ctrip expects HTTP 200, got {resp.status}")
        raw = await resp.read()
        doc = json.loads(raw)
        header = doc["header"]
        body = None
        if "body" in doc:
            body = json.loads(ctrip_decrypt(doc["body"], self.aes_key, self.aes_iv))
        return CtripReply(str(header["resultCode"]), str(header["resultMessage"]), body, raw)

    async def call(self, service: str, body: Any) -> CtripReply:
        reply = await self.send_raw(self.build(service, body))
        self.settlement.observe(service, body, reply.ok, self.now())
        return reply

    async def retry(self, service: str, body: Any, times: int = 3) -> list[CtripReply]:
        """Ctrip's retries: the identical request (same requestTime and sign) re-sent."""
        data = self.build(service, body)
        return [await self.send_raw(data) for _ in range(times)]

    async def call_retrying(self, service: str, body: Any, retries: int = 3) -> CtripReply:
        """One request, re-sent identically up to ``retries`` times while an attempt
        fails (no answer, not HTTP 200, or a supplier system error ``1100``)."""
        return await resend_identical(
            self.send_raw,
            self.build(service, body),
            retries=retries,
            busy=lambda r: f"{r.code} {r.message}" if r.code == "1100" else None,
            label=service,
        )

    async def duplicate(self, service: str, body: Any, times: int = 2) -> list[CtripReply]:
        """The same request pushed ``times`` times at once (Ctrip's duplicated push)."""
        return await pushed_at_once(self.send_raw, self.build(service, body), times)

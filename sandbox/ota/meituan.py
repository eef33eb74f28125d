"""A sandbox Meituan: builds supplier calls exactly as Meituan does and reads the answers.

Written from the public facts (``shared/reference/channels.md#meituan``) — the MWS
``Authorization`` header is computed inline here with ``hmac``/``hashlib``, the global
encryption with the AES primitive of `plugins.channel_meituan.protocol` — never with the hub's
adapter, so a test through this client checks the hub against Meituan's protocol rather
than against itself:

* headers ``PartnerId``, ``Date`` (RFC 1123, GMT) and
  ``Authorization: MWS {clientId}:{signature}`` where the signature is
  ``base64(HMAC-SHA1(clientSecret, METHOD + " " + URI + "\\n" + Date))``;
* the envelope ``{"partnerId", "body": {...}}``; the answer ``{"code", "describe",
  "partnerId", "body"}`` with ``code`` 200 on success;
* optionally the (unconfirmed) global encryption: the whole request AES-128-CBC with the
  IV = key rotated by 8 bytes, base64, announced by ``X-Encryption-Status: encrypted``;
  an answer carrying that header is decrypted the same way.

Meituan retries a call that got no answer (or a 5xx, or 599 "system error") with the
identical request: `call_retrying` does that; `duplicate` pushes one request several
times at once. The receiving side of our notices is `sandbox.ota.meituan_receiver`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlencode

from plugins.channel_meituan.protocol import meituan_decrypt, meituan_encrypt
from sandbox.ota.meituan_receiver import MeituanReceiver, Notice
from sandbox.ota.resend import pushed_at_once, resend_identical
from sandbox.ota.settlement import SettlementBook

__all__ = [
    "CLOSE",
    "CREATE",
    "PAY",
    "QUERY",
    "REFUND",
    "MeituanClient",
    "MeituanReceiver",
    "MeituanReply",
    "MeituanRequest",
    "Notice",
    "mws_authorization",
]

CREATE, PAY, QUERY, REFUND, CLOSE = (
    "order/create",
    "order/pay",
    "order/query",
    "order/refund",
    "order/close",
)
"""The URL tails this supplier gave Meituan (under ``/api/channels/meituan/``)."""

ENCRYPTION_HEADER = "X-Encryption-Status"


def mws_authorization(client_id: str, client_secret: str, method: str, uri: str, date: str) -> str:
    """Meituan's ``Authorization`` value, straight from the reference formula."""
    to_sign = f"{method.upper()} {uri}\n{date}".encode()
    mac = hmac.new(client_secret.encode("utf-8"), to_sign, hashlib.sha1).digest()
    return f"MWS {client_id}:{base64.b64encode(mac).decode('ascii')}"


def rfc1123(at: datetime) -> str:
    return format_datetime(at.astimezone(UTC), usegmt=True)


@dataclass(frozen=True, slots=True)
class MeituanRequest:
    """One call exactly as Meituan posts it (``path``: the request target, query included)."""

    path: str
    data: bytes
    headers: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class MeituanReply:
    """Meituan's reading of an answer: code, describe, the (decrypted) body."""

    status: int
    code: str
    describe: str
    body: Any
    raw: bytes
    encrypted: bool = False

    @property
    def ok(self) -> bool:
        return self.code == "200"


@dataclass
class MeituanClient:
    partner_id: str
    client_id: str
    client_secret: str
    aes_key: str
    http: Any  # an aiohttp ClientSession or a TestClient
    base_url: str = ""
    prefix: str = "/api/channels/meituan"
    encrypt: bool = False
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    settlement: SettlementBook = field(default_factory=lambda: SettlementBook("meituan"))

    def build(
        self,
        tail: str,
        body: Any,
        *,
        encrypt: bool | None = None,
        at: datetime | None = None,
        partner_id: str | None = None,
        query: Mapping[str, str] | None = None,
    ) -> MeituanRequest:
        """The exact request: envelope, optional whole-body encryption, MWS headers. The
        signed URI is the request target as sent: the path and, with ``query``, ``?`` and
        the query string."""
        path = f"{self.prefix}/{tail}" + (f"?{urlencode(query)}" if query else "")
        partner = self.partner_id if partner_id is None else partner_id
        doc = {"partnerId": partner, "body": body}
        data = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        date = rfc1123(at or self.now())
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "PartnerId": partner,
            "Date": date,
            "Authorization": mws_authorization(
                self.client_id, self.client_secret, "POST", path, date
            ),
        }
        if self.encrypt if encrypt is None else encrypt:
            data = meituan_encrypt(data, self.aes_key).encode("ascii")
            headers["Content-Type"] = "text/plain; charset=utf-8"
            headers[ENCRYPTION_HEADER] = "encrypted"
        return MeituanRequest(path, data, headers)

    def read(self, status: int, headers: Mapping[str, str], raw: bytes) -> MeituanReply:
        """Decode an answer as Meituan does (decrypting it when the header says so)."""
        encrypted = (headers.get(ENCRYPTION_HEADER) or "").lower() == "encrypted"
        plain = meituan_decrypt(raw.decode("ascii"), self.aes_key) if encrypted else raw
        doc = json.loads(plain)
        return MeituanReply(
            status,
            str(doc["code"]),
            str(doc.get("describe", "")),
            doc.get("body"),
            raw,
            encrypted,
        )

    async def send(self, request: MeituanRequest) -> MeituanReply:
        resp = await self.http.post(
            f"{self.base_url}{request.path}",
            data=io.BytesIO(request.data),  # large bodies must not block the event loop
            headers=dict(request.headers),
        )
        raw = await resp.read()
        if resp.status != 200:
            raise AssertionError(f"Meituan expects HTTP 200, got {resp.status}: {raw[:200]!r}")
        return self.read(resp.status, resp.headers, raw)

    async def call(self, tail: str, body: Any, **kw: Any) -> MeituanReply:
        reply = await self.send(self.build(tail, body, **kw))
        self.settlement.observe(tail, body, reply.ok, self.now())
        return reply

    async def call_retrying(self, tail: str, body: Any, retries: int = 3) -> MeituanReply:
        """One request, re-sent identically while an attempt fails (no answer, not HTTP
        200, or 599 "system error"), at most ``retries`` more times."""
        return await resend_identical(
            self.send,
            self.build(tail, body),
            retries=retries,
            busy=lambda r: f"{r.code} {r.describe}" if r.code == "599" else None,
            label=tail,
        )

    async def duplicate(self, tail: str, body: Any, times: int = 2) -> list[MeituanReply]:
        """The same request pushed ``times`` times at once (a duplicated push)."""
        return await pushed_at_once(self.send, self.build(tail, body), times)

"""Simulated HTTP QR / ID-card readers on turnstiles, as they behave on the wire.

Two families, each written from the vendor's side (not from our mapping, so a mistake in
a mapping shows up as a failing test rather than being mirrored):

- `CardIdReader` — ``GET /scan?cardid=…&mjihao=…&cjihao=…&status=11&time=<UTC>``, opens
  its relay when the JSON answer has ``status == 1``, shows ``text``, holds the relay
  ``relay_time`` ms and sets its clock from ``server_time``.
- `JsonPostReader` — ``POST /api/turnstile/verify`` with ``{"sn", "doorNo", "qrCode",
  "type", "ts"}`` (epoch ms), opens on ``code == 0``, clock from ``data.serverTime``.

Online readers hold no list: offline (network down, or no answer within the timeout)
they stay shut and queue nothing — a turnstile reader that cannot ask cannot decide, and
replaying old scans later would open the gate for nobody. They can replay their last
request exactly (what a reader does after a timeout).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

KIND_QR = "11"
KIND_ID_CARD = "12"


@dataclass
class Outcome:
    opened: bool
    text: str
    http_status: int | None = None  # None: nothing came back
    answer: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Reader:
    base_url: str
    serial: str
    gate: str
    http: aiohttp.ClientSession
    timeout: float = 2.0
    clock_offset: timedelta = timedelta(0)  # how far this reader's clock is off
    online: bool = True
    relay_opens: int = 0
    relay_ms: int = 0
    display: str = ""
    shut_offline: int = 0
    clock_syncs: int = 0
    last_request: tuple[str, str, dict[str, Any]] | None = None
    token: str = ""  # the secret in the URL the reader is configured with (``?token=``)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.clock_offset

    def _resync(self, server_now: datetime) -> None:
        self.clock_offset = server_now - datetime.now(UTC)
        self.clock_syncs += 1

    async def _send(self, method: str, url: str, payload: dict[str, Any]) -> Outcome:
        self.last_request = (method, url, payload)
        if not self.online:
            self.shut_offline += 1
            self.display = "网络故障 Offline"
            return Outcome(False, self.display)
        secret = {"token": self.token} if self.token else {}
        kw: dict[str, Any] = (
            {"params": {**secret, **payload}}
            if method == "GET"
            else {"json": payload, "params": secret}
        )
        try:
            async with self.http.request(
                method, url, timeout=aiohttp.ClientTimeout(total=self.timeout), **kw
            ) as resp:
                status = resp.status
                try:
                    answer = await resp.json(content_type=None)
                except ValueError:
                    answer = None
        except (aiohttp.ClientError, TimeoutError):
            self.shut_offline += 1
            self.display = "网络故障 Offline"
            return Outcome(False, self.display)
        if not isinstance(answer, dict):
            self.display = "Error"
            return Outcome(False, self.display, status)
        return self._obey(status, answer)

    def _obey(self, status: int, answer: dict[str, Any]) -> Outcome:
        raise NotImplementedError

    async def replay(self) -> Outcome:
        """Send the last request again, byte for byte (a reader retrying after a timeout)."""
        assert self.last_request is not None, "nothing sent yet"
        return await self._send(*self.last_request)


@dataclass
class CardIdReader(_Reader):
    path: str = "/scan"

    async def scan(self, code: str, kind: str = KIND_QR) -> Outcome:
        payload = {
            "cardid": code,
            "mjihao": self.gate,
            "cjihao": self.serial,
            "status": kind,
            "time": self.now().strftime("%Y-%m-%d %H:%M:%S"),
        }
        return await self._send("GET", self.base_url + self.path, payload)

    def _obey(self, status: int, answer: dict[str, Any]) -> Outcome:
        self.display = str(answer.get("text", ""))
        server_time = answer.get("server_time")
        if isinstance(server_time, str):
            try:
                parsed = datetime.strptime(server_time, "%Y-%m-%d %H:%M:%S")
            except ValueError:
                pass
            else:
                self._resync(parsed.replace(tzinfo=UTC))
        opened = answer.get("status") == 1
        if opened:
            self.relay_opens += 1
            self.relay_ms = int(answer.get("relay_time", 0))
        return Outcome(opened, self.display, status, answer)


@dataclass
class JsonPostReader(_Reader):
    path: str = "/api/turnstile/verify"

    async def scan(self, code: str, kind: str = "qrcode") -> Outcome:
        payload = {
            "sn": self.serial,
            "doorNo": self.gate,
            "qrCode": code,
            "type": kind,
            "ts": int(self.now().timestamp() * 1000),
        }
        return await self._send("POST", self.base_url + self.path, payload)

    def _obey(self, status: int, answer: dict[str, Any]) -> Outcome:
        self.display = str(answer.get("msg", ""))
        data = answer.get("data") if isinstance(answer.get("data"), dict) else {}
        server_ms = data.get("serverTime")
        if isinstance(server_ms, int):
            self._resync(datetime.fromtimestamp(server_ms / 1000, UTC))
        opened = answer.get("code") == 0
        if opened:
            self.relay_opens += 1
            self.relay_ms = int(data.get("openSeconds", 0)) * 1000
        return Outcome(opened, self.display, status, answer)

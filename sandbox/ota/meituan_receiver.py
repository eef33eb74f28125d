"""A sandbox Meituan receiving our notices (``/rhone/mtp/api/...``), exactly as Meituan would.

It listens on 127.0.0.1 and checks each call the way Meituan does: the ``PartnerId``
header, the ``Date`` header within its window, the MWS ``Authorization`` (HMAC-SHA1 over
``POST {URI}\\n{Date}``, URI = the request target as sent, query included; computed
inline from the reference formula, never with the hub's outbound module), the envelope's
``partnerId``; a body announced by ``X-Encryption-Status: encrypted`` is decrypted first.
It answers in Meituan's envelope (``{"code": 200, "describe": "success", "partnerId":
...}``, or its error codes).

It records every attempt (`received`) and every notice it ACCEPTED (`accepted`); a
notice counts only once Meituan answered 200, as in production. `duplicates` lists
accepted notices whose exact content (path and body) was already accepted: the
"nothing sent twice" ledger tests read.

Faults, consumed one per incoming call in the order planned (`fail`): the transport's
(``"timeout"``, ``"500"``, ``"slow:S"``, ``"ok"``; see `sandbox.ota.receiver_base`) and
``"code:C"``, answer Meituan code C (e.g. ``code:599`` system error).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from aiohttp import web

from hub.channels.codecs import CodecError
from plugins.channel_meituan.protocol import meituan_decrypt
from sandbox.ota.receiver_base import FaultyReceiver
from sandbox.ota.stock_book import StockBook

PRICE_NOTICE = "/rhone/mtp/api/level/price/notice/v2"
CALENDAR = "price/calendar"

MAX_SKEW_SECONDS = 600


@dataclass(frozen=True, slots=True)
class Notice:
    """One notice as Meituan read it."""

    path: str
    body: Any
    date: str
    encrypted: bool
    code: int  # what Meituan answered

    @property
    def kind(self) -> str:
        """``consume`` / ``refund`` from the path (``.../order/consume/notice``)."""
        parts = self.path.rstrip("/").split("/")
        return parts[-2] if len(parts) >= 2 else self.path

    @property
    def content(self) -> str:
        blob = json.dumps([self.path, self.body], sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()


def _sign(secret: str, uri: str, date: str) -> str:
    mac = hmac.new(secret.encode("utf-8"), f"POST {uri}\n{date}".encode(), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode("ascii")


class MeituanReceiver(FaultyReceiver):
    """Meituan's notice endpoint (``start`` → its base URL; ``close`` when done)."""

    def __init__(
        self,
        partner_id: str,
        client_id: str,
        client_secret: str,
        aes_key: str,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        super().__init__()
        self.partner_id = partner_id
        self.client_id = client_id
        self.client_secret = client_secret
        self.aes_key = aes_key
        self.now = now
        self.received: list[Notice] = []
        self.accepted: list[Notice] = []
        self.duplicates: list[Notice] = []
        self.refused: list[tuple[int, str]] = []  # (code, why) of calls Meituan refused
        # Stock: after a price notice Meituan pulls the calendar with `puller` (a
        # `sandbox.ota.meituan.MeituanClient` on the hub) and keeps what it read.
        self.stock = StockBook()
        self.puller: Any = None
        self._pulls: dict[str, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------ control

    def of(self, kind: str) -> list[Notice]:
        """Accepted notices of one kind (``consume`` / ``refund``), in arrival order."""
        return [n for n in self.accepted if n.kind == kind]

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self.handle)
        return await self.listen(app)

    # ------------------------------------------------------------------ Meituan's side

    def _answer(self, code: int, describe: str) -> web.Response:
        if code != 200:
            self.refused.append((code, describe))
        doc = {"code": code, "describe": describe, "partnerId": self.partner_id}
        return web.json_response(doc)

    def check(self, uri: str, headers: Any, raw: bytes) -> tuple[int, str, Any, bool]:
        """Meituan's checks: ``(code, describe, body, encrypted)``; code 200 = authentic."""
        if headers.get("PartnerId") != self.partner_id:
            return 403, "unknown PartnerId", None, False
        date = headers.get("Date") or ""
        try:
            sent = parsedate_to_datetime(date)
        except (TypeError, ValueError, IndexError):
            return 401, "Date missing or malformed", None, False
        if abs((self.now() - sent).total_seconds()) > MAX_SKEW_SECONDS:
            return 401, "Date outside the window", None, False
        expected = f"MWS {self.client_id}:{_sign(self.client_secret, uri, date)}"
        given = headers.get("Authorization") or ""
        if not hmac.compare_digest(expected.encode(), given.encode()):
            return 401, "bad signature", None, False
        encrypted = (headers.get("X-Encryption-Status") or "").lower() == "encrypted"
        try:
            plain = meituan_decrypt(raw.decode("ascii"), self.aes_key) if encrypted else raw
            doc = json.loads(plain)
        except (CodecError, UnicodeDecodeError, ValueError):
            return 400, "body cannot be read", None, encrypted
        if not isinstance(doc, dict) or doc.get("partnerId") != self.partner_id:
            return 403, "envelope partnerId mismatch", None, encrypted
        return 200, "success", doc.get("body"), encrypted

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.hits += 1
        raw = await request.read()
        # Stock notices meet only the faults planned for them (``fail_for("price", …)``):
        # an outage planned for the order notices must not be used up by stock traffic.
        price = request.path == PRICE_NOTICE
        fault = self._price_fault() if price else self.next_fault()
        failed = await self.transport_fault(fault)
        if failed is not None:
            return failed
        code, describe, body, encrypted = self.check(request.raw_path, request.headers, raw)
        if code != 200:
            return self._answer(code, describe)
        if fault is not None and fault.startswith("code:"):
            code = int(fault.removeprefix("code:"))
        notice = Notice(request.path, body, request.headers.get("Date", ""), encrypted, code)
        self.received.append(notice)
        if code != 200:
            return self._answer(code, "refused by the sandbox")
        # a price notice names a window, so the same window again is a new change
        if notice.path != PRICE_NOTICE and notice.content in {n.content for n in self.accepted}:
            self.duplicates.append(notice)
        self.accepted.append(notice)
        if notice.path == PRICE_NOTICE and self.puller is not None and isinstance(body, dict):
            task = asyncio.create_task(self.pull(body))  # Meituan pulls after answering
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return self._answer(200, "success")

    def _price_fault(self) -> str | None:
        own = self.keyed_faults.get("price")
        return own.popleft() if own else None

    async def pull(self, notice: dict[str, Any]) -> None:
        """Pull the calendar of the notice's window and keep the stock it shows; one
        pull per product at a time, so a later answer is never overwritten by an older."""
        deal = str(notice.get("partnerDealId", ""))
        lock = self._pulls.setdefault(deal, asyncio.Lock())
        async with lock:
            query = {k: notice.get(k) for k in ("partnerDealId", "startTime", "endTime")}
            try:
                reply = await self.puller.call(CALENDAR, query)
            except Exception as exc:  # the hub was unreachable: Meituan pulls again later
                self.refused.append((0, f"calendar pull failed: {exc!r}"))
                return
            if not reply.ok or not isinstance(reply.body, dict):
                self.refused.append((int(reply.code), f"calendar pull: {reply.describe}"))
                return
            rows = []
            for row in reply.body.get("levelPriceCalendars") or []:
                slot = str(row.get("partnerPrimaryKey", "")).split(":", 2)[-1]
                rows.append((str(row["priceDate"]), slot, int(row["stock"])))
            self.stock.record(deal, rows)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await super().close()

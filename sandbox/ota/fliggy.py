"""A sandbox Fliggy: its calls to the supplier, and its TOP gateway receiving ours.

Fliggy's supplier-facing protocol is not public; this client speaks what
``plugins/channel_fliggy/fliggy.toml`` declares, written out here by hand (not through the hub's
adapter) in TOP's conventions: ``POST /api/channels/fliggy/<operation>`` with a JSON
body and the TOP system parameters in the query — ``app_key``, ``timestamp`` (GMT+8),
``v``, ``sign_method`` — signed over the query sorted by name followed by the raw body:
``upper(md5(secret + k1v1… + body + secret))`` or, with ``sign_method=hmac``,
``upper(HMAC-MD5(secret, k1v1… + body))``, with ``hmac-sha256`` the same with SHA-256.
If Fliggy's onboarding documents say otherwise, the spec and this client change together.

Fliggy retries a call that got no answer, a 5xx or ``9999`` (system busy) with the same
body and a fresh timestamp and signature (`call_retrying`); `duplicate` pushes the same
request several times at once. The gateway side is `sandbox.ota.fliggy_gateway`.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from sandbox.ota.fliggy_gateway import TopCall, TopGateway, top_signature
from sandbox.ota.resend import pushed_at_once
from sandbox.ota.settlement import SettlementBook

__all__ = ["FliggyClient", "FliggyReply", "TopCall", "TopGateway", "booking", "travellers"]

BASE = "/api/channels/fliggy"
BEIJING = ZoneInfo("Asia/Shanghai")
JSON = {"Content-Type": "application/json; charset=utf-8"}
SECRETS = {"FLIGGY_APP_KEY": "fliggy-app-1", "FLIGGY_APP_SECRET": "fliggy-secret-xyz"}


def sign_request(query: Mapping[str, str], body: bytes, secret: str, method: str) -> str:
    """Fliggy's signature of a call to the supplier: sorted query, then the raw body."""
    text = "".join(f"{k}{v}" for k, v in sorted(query.items()) if k != "sign").encode() + body
    key = secret.encode()
    if method == "hmac":
        return hmac.new(key, text, hashlib.md5).hexdigest().upper()
    if method == "hmac-sha256":
        return hmac.new(key, text, hashlib.sha256).hexdigest().upper()
    if method == "md5":
        return hashlib.md5(key + text + key).hexdigest().upper()
    return "0" * 32  # a method TOP does not define: no signature anyone can check


@dataclass(frozen=True, slots=True)
class Request:
    """One signed call: path (with query), query pairs, body bytes."""

    operation: str
    query: tuple[tuple[str, str], ...]
    body: bytes

    @property
    def path(self) -> str:
        return f"{BASE}/{self.operation}"

    @property
    def url(self) -> str:
        return f"{self.path}?{urlencode(self.query)}"


@dataclass(frozen=True, slots=True)
class FliggyReply:
    status: int
    code: str
    message: str
    data: Any
    raw: bytes

    @property
    def ok(self) -> bool:
        return self.code == "0"


@dataclass
class FliggyClient:
    """Fliggy calling the supplier; ``http`` is an aiohttp client (a TestClient works
    with ``base_url=""``); ``now`` lets tests sign in the hub's fixed time."""

    http: Any
    app_key: str = SECRETS["FLIGGY_APP_KEY"]
    secret: str = SECRETS["FLIGGY_APP_SECRET"]
    base_url: str = ""
    sign_method: str = "md5"
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    settlement: SettlementBook = field(default_factory=lambda: SettlementBook("fliggy"))

    def build(
        self, operation: str, body: Any, *, secret: str | None = None, raw: bytes | None = None
    ) -> Request:
        data = raw if raw is not None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        query = {
            "app_key": self.app_key,
            "timestamp": self.now().astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S"),
            "v": "2.0",
            "sign_method": self.sign_method,
        }
        query["sign"] = sign_request(query, data, secret or self.secret, self.sign_method)
        return Request(operation, tuple(query.items()), data)

    async def send(self, request: Request) -> FliggyReply:
        resp = await self.http.post(
            f"{self.base_url}{request.url}", data=io.BytesIO(request.body), headers=JSON
        )
        raw = await resp.read()
        if resp.status != 200:
            return FliggyReply(resp.status, "", "", None, raw)
        doc = json.loads(raw)
        return FliggyReply(resp.status, str(doc["code"]), str(doc["message"]), doc.get("data"), raw)

    async def call(self, operation: str, body: Any) -> FliggyReply:
        reply = await self.send(self.build(operation, body))
        self.settlement.observe(operation, body, reply.ok, self.now())
        return reply

    async def call_retrying(self, operation: str, body: Any, retries: int = 3) -> FliggyReply:
        """Fliggy's retries: same body, fresh timestamp and sign, while an attempt gets
        no answer, a 5xx or ``9999``."""
        last: object = None
        for _ in range(1 + retries):
            try:
                reply = await self.call(operation, body)
            except (OSError, TimeoutError, ValueError) as exc:
                last = exc
                continue
            if reply.status == 200 and reply.code != "9999":
                return reply
            last = reply
        raise AssertionError(f"{operation} failed after {retries} retries: {last}")

    async def duplicate(self, operation: str, body: Any, times: int = 2) -> list[FliggyReply]:
        """The same signed request pushed ``times`` times at once."""
        return await pushed_at_once(self.send, self.build(operation, body), times)


def booking(
    order_id: str,
    *,
    product: str = "adult",
    day: date,
    quantity: int = 1,
    price: int = 10000,
    **extra: Any,
) -> dict[str, Any]:
    """A paid Fliggy order as Fliggy sends it (unit price in fen)."""
    return {
        "order_id": order_id,
        "product_id": product,
        "quantity": quantity,
        "travel_date": day.isoformat(),
        "price": price,
        "contact": {"name": "Zhao Min", "phone": "13700000000"},
        "travellers": [],
        **extra,
    }


def travellers(numbers: list[str]) -> list[dict[str, str]]:
    """Real-name travellers with mainland ID cards (``cert_type`` 0)."""
    return [
        {"name": f"Traveller {i}", "cert_type": "0", "cert_no": n, "phone": "13700000000"}
        for i, n in enumerate(numbers)
    ]


def verify_top_call(params: Mapping[str, str], app_key: str, secret: str) -> dict[str, str]:
    """One of our TOP calls checked as the gateway would (for probes and receivers that
    are not a whole `TopGateway`); ValueError when it is not authentic."""
    p = dict(params)
    if p.get("app_key") != app_key or not p.get("sign"):
        raise ValueError("not our app")
    expected = top_signature(p, secret, p.get("sign_method", "md5"))
    if not hmac.compare_digest(expected, p["sign"].upper()):
        raise ValueError("TOP signature does not verify")
    return p

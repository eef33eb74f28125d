"""TripNest, the fictional spec-only partner, from its own side.

Its protocol is written out here by hand (base64 JSON body, upper-case md5 over
partnerId + timestamp + data + secret) — not through the hub's adapter — so tests of the
spec-only channel check the spec against an independent reading of the same protocol.
Also its conformance probe.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from hub.testing.conformance import (
    Answer,
    ChannelProbe,
    KitHub,
    PartnerCodes,
    ProbeAnswer,
    ProbeRequest,
    ReceivedCall,
)

SPECS_DIR = str(Path(__file__).resolve().parents[2] / "examples" / "channel_specs")
SECRETS = {"TRIPNEST_PARTNER_ID": "tn-42", "TRIPNEST_SECRET": "tn-secret-xyz"}
BASE = "/api/channels/tripnest"
JSON = {"Content-Type": "application/json"}


def sign(partner: str, stamp: str, data: str, secret: str) -> str:
    return hashlib.md5(f"{partner}{stamp}{data}{secret}".encode()).hexdigest().upper()


class TripNestClient:
    """Builds TripNest's requests; `now` lets a test sign in the hub's (fixed) time."""

    def __init__(
        self,
        secrets: Mapping[str, str] = SECRETS,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.partner = secrets["TRIPNEST_PARTNER_ID"]
        self.secret = secrets["TRIPNEST_SECRET"]
        self.now = now

    def request(
        self, operation: str, body: Any, *, secret: str | None = None, raw: bytes | None = None
    ) -> ProbeRequest:
        """``raw``: these bytes as the (base64) data instead of ``body``'s JSON."""
        data = base64.b64encode(json.dumps(body).encode() if raw is None else raw).decode()
        stamp = self.now().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        doc = {
            "partnerId": self.partner,
            "timestamp": stamp,
            "data": data,
            "sign": sign(self.partner, stamp, data, secret or self.secret),
        }
        return ProbeRequest("POST", f"{BASE}/{operation}", json.dumps(doc).encode(), headers=JSON)

    @staticmethod
    def read(raw: bytes) -> ProbeAnswer:
        doc = json.loads(raw)
        data = doc.get("data")
        body = json.loads(base64.b64decode(data)) if isinstance(data, str) else None
        return ProbeAnswer(str(doc["code"]), body)

    def verify_callback(self, raw: bytes) -> dict[str, Any]:
        """Our notify as TripNest checks it: its signature, then the decoded data."""
        try:
            doc = json.loads(raw)
            expected = sign(doc["partnerId"], doc["timestamp"], doc["data"], self.secret)
            partner = doc["partnerId"]
        except (KeyError, TypeError, AttributeError) as exc:  # not a TripNest envelope
            raise ValueError(f"callback envelope incomplete: {exc!r}") from exc
        if doc.get("sign") != expected or partner != self.partner:
            raise ValueError("callback signature does not verify")
        try:
            return dict(json.loads(base64.b64decode(doc["data"], validate=True)))
        except (binascii.Error, TypeError) as exc:
            raise ValueError(f"callback data is not base64 JSON: {exc}") from exc


def booking(order_no: str, *, product: str, day: date, count: int, **extra: Any) -> dict[str, Any]:
    return {
        "orderNo": order_no,
        "productCode": product,
        "count": count,
        "visitDate": day.isoformat(),
        "unitPrice": 10000,
        "contact": {"name": "Wang Fang", "mobile": "13900000000"},
        **extra,
    }


class TripNestProbe(ChannelProbe):
    """TripNest for the conformance kit (`book` takes stock, `pay` queues `issued`)."""

    channel = "tripnest"
    settings: Mapping[str, str] = SECRETS
    hub_settings: Mapping[str, Any] = {"channel_specs_dirs": [SPECS_DIR]}
    codes = PartnerCodes(
        ok="0", bad_sign="1002", parse_error="1001", sold_out="2001", conflict="2009"
    )

    def __init__(self) -> None:
        self.client = TripNestClient()

    def order(
        self, partner_order_id: str, *, product: str, day: date, quantity: int
    ) -> ProbeRequest:
        body = booking(partner_order_id, product=product, day=day, count=quantity)
        return self.client.request("book", body)

    def forge(self, request: ProbeRequest) -> ProbeRequest:
        doc = json.loads(request.body)
        doc["sign"] = "0" * 32
        return ProbeRequest(request.method, request.path, json.dumps(doc).encode(), headers=JSON)

    def malformed(self, partner_order_id: str) -> ProbeRequest:
        request = self.client.request("book", {"orderNo": partner_order_id})
        doc = json.loads(request.body)
        doc["data"] = "%%%not-base64%%%"
        doc["sign"] = sign(doc["partnerId"], doc["timestamp"], doc["data"], self.client.secret)
        return ProbeRequest("POST", request.path, json.dumps(doc).encode(), headers=JSON)

    def oversized(self, size: int) -> ProbeRequest:
        return ProbeRequest(
            "POST", f"{BASE}/book", b'{"data":"' + b"A" * size + b'"}', headers=JSON
        )

    def carrying(self, raw: bytes) -> ProbeRequest:
        return self.client.request("book", None, raw=raw)

    def read(self, status: int, headers: Mapping[str, str], body: bytes) -> ProbeAnswer:
        return self.client.read(body)

    def callback_settings(self, receiver_url: str) -> Mapping[str, str]:
        return {"TRIPNEST_NOTIFY_URL": receiver_url}

    async def provoke_callback(self, kit: KitHub, partner_order_id: str) -> None:
        await kit.expect_ok(self.client.request("pay", {"orderNo": partner_order_id}), "pay")

    def callback_identity(self, call: ReceivedCall) -> str:
        data = self.client.verify_callback(call.body)
        return f"{call.path}:{data['orderNo']}"

    def callback_answer(self, call: ReceivedCall) -> Answer:
        return 200, JSON, json.dumps({"code": 0, "msg": "ok"}).encode()

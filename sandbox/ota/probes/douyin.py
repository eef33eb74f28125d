"""Douyin as the conformance kit drives it: ``create_order`` is the stock-taking call.

Requests are built by `sandbox.ota.douyin.DouyinClient` (Douyin's query ``timestamp``,
``x-life-clientkey`` and sha256 ``x-life-sign`` over the sorted query and raw body,
written from the reference), answers read as Douyin reads them (``data.error_code``).

Callbacks: Douyin's only callback is the certificate verify on REDEMPTION, and one
verify is up to three requests to Douyin's OpenAPI: ``client_token`` (once, cached),
``certificate/prepare`` (a lookup) and ``certificate/verify`` (the call that changes
Douyin's state). `provoke_callback` pays the order over HTTP as Douyin, then admits one
ticket through the venue bridge's upload (`KitHub.admit`). `callback_identity` names the
verify the callback and the other two preparatory steps, so the kit's receiver spends its
faults on verifies and counts one delivery per voucher; `callback_answer` answers each
request the way Douyin would, the prepare with a ``verify_token`` bound to the voucher
code, which the verify must then carry back.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from datetime import date
from typing import Any

from hub.testing.conformance import (
    Answer,
    ChannelProbe,
    KitHub,
    PartnerCodes,
    ProbeAnswer,
    ProbeRequest,
    ReceivedCall,
    broken,
)
from sandbox.ota.douyin import (
    PREPARE_PATH,
    TOKEN_PATH,
    VERIFY_PATH,
    DouyinClient,
    SpiRequest,
    spi_sign,
)

SECRETS = {
    "DOUYIN_CLIENT_KEY": "awk-conformance",
    "DOUYIN_CLIENT_SECRET": "conformance-client-secret",
}
KIT_TOKEN = "clt.conformance-kit-token"
POI_ID = "conformance-poi"


def verify_token(code: str) -> str:
    """The token our prepare answer gives for a voucher code: derived, so the verify can
    be checked against the prepare without the probe keeping state."""
    return "vt-" + hashlib.sha256(code.encode()).hexdigest()[:24]


class DouyinProbe(ChannelProbe):
    channel = "douyin"
    settings: Mapping[str, str] = SECRETS
    codes = PartnerCodes(
        ok="0", bad_sign="999999", parse_error="999999", sold_out="1", conflict="999999"
    )

    def __init__(self) -> None:
        self.client = DouyinClient(
            SECRETS["DOUYIN_CLIENT_KEY"], SECRETS["DOUYIN_CLIENT_SECRET"], http=None
        )

    @staticmethod
    def _probe(req: SpiRequest, raw: bytes | None = None) -> ProbeRequest:
        """`req` as the kit sends it; with `raw`, those bytes signed in its place."""
        if raw is None:
            return ProbeRequest("POST", req.path, req.body, req.query, dict(req.headers))
        sign = spi_sign(SECRETS["DOUYIN_CLIENT_SECRET"], dict(req.query), raw, "sha256")
        return ProbeRequest("POST", req.path, raw, req.query, {**req.headers, "x-life-sign": sign})

    def _request(self, operation: str, body: Any) -> ProbeRequest:
        return self._probe(self.client.build(operation, body))

    def order(
        self, partner_order_id: str, *, product: str, day: date, quantity: int
    ) -> ProbeRequest:
        body = {
            "order_id": partner_order_id,
            "sku_id": product,
            "count": quantity,
            "use_date": day.isoformat(),
            "unit_price": 10000,
            "tourists": [],
        }
        return self._request("create_order", body)

    def forge(self, request: ProbeRequest) -> ProbeRequest:
        return request.with_headers(**{"x-life-sign": broken(request.headers["x-life-sign"])})

    def malformed(self, partner_order_id: str) -> ProbeRequest:
        """Correctly signed (query and these very bytes), but not JSON."""
        raw = b'{"order_id":"' + partner_order_id.encode() + b'","count":'
        return self._probe(self.client.build("create_order", {}), raw)

    def oversized(self, size: int) -> ProbeRequest:
        raw = b'{"order_id":"' + b"x" * size + b'"}'
        return self._probe(self.client.build("create_order", {}), raw)

    def carrying(self, raw: bytes) -> ProbeRequest:
        """``raw`` as the body of create_order, signed (query and these very bytes)."""
        return self._probe(self.client.build("create_order", {}), raw)

    def read(self, status: int, headers: Mapping[str, str], body: bytes) -> ProbeAnswer:
        data = json.loads(body)["data"]
        return ProbeAnswer(str(data["error_code"]), data)

    # ------------------------------------------------------------------ callbacks

    def callback_settings(self, receiver_url: str) -> Mapping[str, str]:
        return {"DOUYIN_OPENAPI_URL": receiver_url, "DOUYIN_POI_ID": POI_ID}

    async def provoke_callback(self, kit: KitHub, partner_order_id: str) -> None:
        """Pay over HTTP as Douyin, then admit the order's first ticket (one verify)."""
        await kit.expect_ok(self._request("pay_notify", {"order_id": partner_order_id}), "pay")
        await kit.admit(partner_order_id)

    def callback_identity(self, call: ReceivedCall) -> str | None:
        """Douyin's own checks: the client credentials on ``client_token``, the token
        it issued (`KIT_TOKEN`) on the others, and a verify must carry the token and
        encrypted code our prepare gave for its voucher. Token and prepare are steps
        (None); a verify's identity is its voucher's token."""
        try:
            if call.path == TOKEN_PATH:
                doc = json.loads(call.body)
                if (
                    doc.get("client_key") != SECRETS["DOUYIN_CLIENT_KEY"]
                    or doc.get("client_secret") != SECRETS["DOUYIN_CLIENT_SECRET"]
                    or doc.get("grant_type") != "client_credential"
                ):
                    raise ValueError("bad client credentials")
                return None
            if call.headers.get("access-token") != KIT_TOKEN:
                raise ValueError("access-token missing or not issued")
            if call.path == PREPARE_PATH and call.method == "GET" and call.query["code"]:
                return None
            if call.path != VERIFY_PATH or call.method != "POST":
                raise ValueError(f"not a certificate call: {call.method} {call.path}")
            doc = json.loads(call.body)
            token = str(doc["verify_token"])
            if doc["encrypted_codes"] != ["enc-" + token] or doc.get("poi_id") != POI_ID:
                raise ValueError("verify does not carry what prepare gave, or the poi_id")
            return f"verify:{token}"
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a Douyin OpenAPI call: {exc}") from None

    def callback_answer(self, call: ReceivedCall) -> Answer:
        """Each call's answer as Douyin gives it."""
        data: dict[str, Any] = {"error_code": 0, "description": ""}
        if call.path == TOKEN_PATH:
            data |= {"access_token": KIT_TOKEN, "expires_in": 7200}
        elif call.path == PREPARE_PATH:
            token = verify_token(call.query["code"])
            data |= {"verify_token": token, "certificates": [{"encrypted_code": "enc-" + token}]}
        else:
            data |= {"verify_results": [{"result": 0, "msg": ""}]}
        doc = {"data": data, "extra": {"error_code": 0, "now": int(time.time())}}
        return 200, {"Content-Type": "application/json"}, json.dumps(doc).encode()

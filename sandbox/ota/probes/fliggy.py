"""Fliggy as the conformance kit drives it: ``create`` (a paid order) takes the stock,
``refund`` queues exactly one TOP call (``taobao.travel.ticket.order.refund``).

Requests are built by `sandbox.ota.fliggy.FliggyClient` (TOP-style query signature over
the sorted query and the raw body, written from the formulas); our TOP calls are checked
as the gateway would (app key and signature, either sign method).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from typing import Any
from urllib.parse import parse_qsl

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
from sandbox.ota.fliggy import BASE, JSON, SECRETS, FliggyClient, booking, verify_top_call
from sandbox.ota.fliggy_gateway import response_key

REFUND = "taobao.travel.ticket.order.refund"


class FliggyProbe(ChannelProbe):
    channel = "fliggy"
    settings: Mapping[str, str] = SECRETS
    codes = PartnerCodes(
        ok="0", bad_sign="1002", parse_error="1001", sold_out="2002", conflict="2009"
    )

    def __init__(self) -> None:
        self.client = FliggyClient(http=None)

    def _request(self, operation: str, body: Any = None, raw: bytes | None = None) -> ProbeRequest:
        signed = self.client.build(operation, body, raw=raw)
        return ProbeRequest("POST", signed.path, signed.body, signed.query, JSON)

    def order(
        self, partner_order_id: str, *, product: str, day: date, quantity: int
    ) -> ProbeRequest:
        return self._request(
            "create", booking(partner_order_id, product=product, day=day, quantity=quantity)
        )

    def forge(self, request: ProbeRequest) -> ProbeRequest:
        query = tuple((k, broken(v) if k == "sign" else v) for k, v in request.query)
        return ProbeRequest(request.method, request.path, request.body, query, request.headers)

    def malformed(self, partner_order_id: str) -> ProbeRequest:
        """Correctly signed, but the body is cut off mid-document."""
        raw = json.dumps({"order_id": partner_order_id, "product_id": "adult"}).encode()
        return self._request("create", raw=raw[:-7])

    def oversized(self, size: int) -> ProbeRequest:
        raw = b'{"order_id":"' + b"x" * size + b'"}'
        return self._request("create", raw=raw)

    def carrying(self, raw: bytes) -> ProbeRequest:
        """``raw`` as the body of create, signed (sorted query, then these bytes)."""
        return self._request("create", raw=raw)

    def read(self, status: int, headers: Mapping[str, str], body: bytes) -> ProbeAnswer:
        doc: dict[str, Any] = json.loads(body)
        return ProbeAnswer(str(doc["code"]), doc.get("data"))

    # ------------------------------------------------------------------ callbacks

    def callback_settings(self, receiver_url: str) -> Mapping[str, str]:
        return {"FLIGGY_TOP_URL": receiver_url + "/router/rest"}

    async def provoke_callback(self, kit: KitHub, partner_order_id: str) -> None:
        await kit.expect_ok(self._request("refund", {"order_id": partner_order_id}), "refund")

    def callback_identity(self, call: ReceivedCall) -> str:
        """TOP's checks (app key, signature of the sorted parameters), then the call's
        identity: the API, Fliggy's order and our serial_num."""
        try:
            form = parse_qsl(call.body.decode("utf-8"), keep_blank_values=True)
            params = {**call.query, **dict(form)}
        except UnicodeDecodeError as exc:
            raise ValueError(f"not a TOP call: {exc}") from None
        p = verify_top_call(params, SECRETS["FLIGGY_APP_KEY"], SECRETS["FLIGGY_APP_SECRET"])
        return f"{p.get('method')}:{p.get('order_id')}:{p.get('serial_num')}"

    def callback_answer(self, call: ReceivedCall) -> Answer:
        doc = {response_key(REFUND): {"result": {"success": True}}}
        return 200, {"Content-Type": "application/json;charset=UTF-8"}, json.dumps(doc).encode()


__all__ = ["BASE", "FliggyProbe"]

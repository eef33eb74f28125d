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

from hub.testing.conformance import ProbeAnswer, ProbeRequest
from sandbox.ota.fliggy import BASE, JSON, SECRETS, FliggyClient, booking, verify_top_call
from sandbox.ota.fliggy_gateway import response_key

REFUND = "taobao.travel.ticket.order.refund"


class FliggyProbe:
    channel = "fliggy"
    settings: Mapping[str, str] = SECRETS
    ok_codes = frozenset({"0"})
    bad_sign_codes = frozenset({"1002"})
    parse_error_codes = frozenset({"1001"})
    sold_out_codes = frozenset({"2002"})
    conflict_codes = frozenset({"2009"})

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
        query = tuple(
            (k, ("0" if v[0] != "0" else "1") + v[1:]) if k == "sign" else (k, v)
            for k, v in request.query
        )
        return ProbeRequest(request.method, request.path, request.body, query, request.headers)

    def malformed(self, partner_order_id: str) -> ProbeRequest:
        """Correctly signed, but the body is cut off mid-document."""
        raw = json.dumps({"order_id": partner_order_id, "product_id": "adult"}).encode()
        return self._request("create", raw=raw[:-7])

    def oversized(self, size: int) -> ProbeRequest:
        raw = b'{"order_id":"' + b"x" * size + b'"}'
        return self._request("create", raw=raw)

    def read(self, status: int, headers: Mapping[str, str], body: bytes) -> ProbeAnswer:
        doc: dict[str, Any] = json.loads(body)
        return ProbeAnswer(str(doc["code"]), doc.get("data"))

    # ------------------------------------------------------------------ callbacks

    def callback_settings(self, receiver_url: str) -> Mapping[str, str]:
        return {"FLIGGY_TOP_URL": receiver_url + "/router/rest"}

    async def provoke_callback(self, client: Any, partner_order_id: str) -> None:
        request = self._request("refund", {"order_id": partner_order_id})
        resp = await client.post(request.path, params=list(request.query), data=request.body)
        answer = self.read(resp.status, dict(resp.headers), await resp.read())
        if answer.code != "0":
            raise AssertionError(f"refund refused: {answer}")

    def callback_identity(
        self,
        method: str,
        path: str,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        body: bytes,
    ) -> str:
        """TOP's checks (app key, signature of the sorted parameters), then the call's
        identity: the API, Fliggy's order and our serial_num."""
        try:
            params = {**query, **dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))}
        except UnicodeDecodeError as exc:
            raise ValueError(f"not a TOP call: {exc}") from None
        p = verify_top_call(params, SECRETS["FLIGGY_APP_KEY"], SECRETS["FLIGGY_APP_SECRET"])
        return f"{p.get('method')}:{p.get('order_id')}:{p.get('serial_num')}"

    def callback_answer(self) -> tuple[int, Mapping[str, str], bytes]:
        doc = {response_key(REFUND): {"result": {"success": True}}}
        return 200, {"Content-Type": "application/json;charset=UTF-8"}, json.dumps(doc).encode()


__all__ = ["BASE", "FliggyProbe"]

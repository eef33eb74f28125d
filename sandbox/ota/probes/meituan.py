"""Meituan as the conformance kit drives it: ``order/create`` (a hold) takes the stock.

Requests are built by `sandbox.ota.meituan.MeituanClient` (Meituan's envelope and MWS
headers, written from the reference), answers read as Meituan reads them. The callback
the kit provokes is a refund notice: the order is paid (``order/pay`` answers with the
vouchers, no notice) and then refunded at Meituan's request (``order/refund``), which
queues exactly one ``refund_notice``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from typing import Any

from hub.testing.conformance import ProbeAnswer, ProbeRequest
from sandbox.ota.meituan import CREATE, PAY, REFUND, MeituanClient, MeituanRequest
from sandbox.ota.meituan_receiver import MeituanReceiver

SECRETS = {
    "MEITUAN_PARTNER_ID": "conformance-partner",
    "MEITUAN_CLIENT_ID": "conformance-client",
    "MEITUAN_CLIENT_SECRET": "conformance-secret",
    "MEITUAN_AES_KEY": "0123456789abcdef",
}


class MeituanProbe:
    channel = "meituan"
    settings: Mapping[str, str] = SECRETS
    ok_codes = frozenset({"200"})
    bad_sign_codes = frozenset({"401"})
    parse_error_codes = frozenset({"400"})
    sold_out_codes = frozenset({"502"})
    conflict_codes = frozenset({"507"})

    def __init__(self) -> None:
        self.client = MeituanClient(
            partner_id=SECRETS["MEITUAN_PARTNER_ID"],
            client_id=SECRETS["MEITUAN_CLIENT_ID"],
            client_secret=SECRETS["MEITUAN_CLIENT_SECRET"],
            aes_key=SECRETS["MEITUAN_AES_KEY"],
            http=None,
        )
        self.receiver = MeituanReceiver(
            SECRETS["MEITUAN_PARTNER_ID"],
            SECRETS["MEITUAN_CLIENT_ID"],
            SECRETS["MEITUAN_CLIENT_SECRET"],
            SECRETS["MEITUAN_AES_KEY"],
        )

    @staticmethod
    def _probe(request: MeituanRequest) -> ProbeRequest:
        return ProbeRequest("POST", request.path, request.data, headers=dict(request.headers))

    def order(
        self, partner_order_id: str, *, product: str, day: date, quantity: int
    ) -> ProbeRequest:
        body = {
            "orderId": partner_order_id,
            "partnerDealId": product,
            "quantity": quantity,
            "travelDate": day.isoformat(),
            "unitPrice": "100.00",
            "contactPerson": {"name": "Conformance", "mobile": "13800000000"},
            "visitors": [],
        }
        return self._probe(self.client.build(CREATE, body))

    def forge(self, request: ProbeRequest) -> ProbeRequest:
        headers = dict(request.headers)
        auth = headers["Authorization"]
        head, _, sig = auth.partition(":")
        headers["Authorization"] = f"{head}:{'A' if sig[0] != 'A' else 'B'}{sig[1:]}"
        return ProbeRequest(request.method, request.path, request.body, headers=headers)

    def malformed(self, partner_order_id: str) -> ProbeRequest:
        """Correctly signed and announced as encrypted, but the body is not cipher text."""
        request = self.client.build(CREATE, {"orderId": partner_order_id})
        headers = {**request.headers, "X-Encryption-Status": "encrypted"}
        return ProbeRequest("POST", request.path, b"not-base64-cipher!!", headers=headers)

    def oversized(self, size: int) -> ProbeRequest:
        request = self.client.build(CREATE, {})
        data = b'{"partnerId":"x","body":"' + b"a" * size + b'"}'
        return ProbeRequest("POST", request.path, data, headers=dict(request.headers))

    def read(self, status: int, headers: Mapping[str, str], body: bytes) -> ProbeAnswer:
        reply = self.client.read(status, headers, body)
        return ProbeAnswer(reply.code, reply.body)

    # ------------------------------------------------------------------ callbacks

    def callback_settings(self, receiver_url: str) -> Mapping[str, str]:
        return {"MEITUAN_CALLBACK_URL": receiver_url}

    async def provoke_callback(self, client: Any, partner_order_id: str) -> None:
        for tail, body in (
            (PAY, {"orderId": partner_order_id}),
            (REFUND, {"orderId": partner_order_id, "refundId": f"R-{partner_order_id}"}),
        ):
            request = self.client.build(tail, body)
            resp = await client.post(request.path, data=request.data, headers=request.headers)
            answer = self.read(resp.status, dict(resp.headers), await resp.read())
            if answer.code != "200":
                raise AssertionError(f"{tail} refused: {answer}")

    def callback_identity(
        self,
        method: str,
        path: str,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        body: bytes,
    ) -> str:
        """Meituan's own checks (PartnerId, Date window, MWS signature, envelope), then
        the notice's identity: its path and Meituan's refundId (or order and totals)."""
        uri = path + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")
        code, why, plain, _ = self.receiver.check(uri, _Headers(headers), body)
        if code != 200:
            raise ValueError(f"not an authentic Meituan notice: {why}")
        if not isinstance(plain, dict):
            raise ValueError("notice body is not an object")
        key = plain.get("refundId") or f"{plain.get('orderId')}:{plain.get('usedQuantity')}"
        return f"{path}:{key}"

    def callback_answer(self) -> tuple[int, Mapping[str, str], bytes]:
        doc = {"code": 200, "describe": "success", "partnerId": SECRETS["MEITUAN_PARTNER_ID"]}
        return 200, {"Content-Type": "application/json"}, json.dumps(doc).encode()


class _Headers(dict[str, str]):
    """Case-insensitive ``get`` over a plain header mapping (the kit passes a dict)."""

    def __init__(self, headers: Mapping[str, str]) -> None:
        super().__init__({k.lower(): v for k, v in headers.items()})

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        return super().get(key.lower(), default)


__all__ = ["SECRETS", "MeituanProbe"]

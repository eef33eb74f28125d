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
from sandbox.ota.meituan import CREATE, PAY, REFUND, MeituanClient, MeituanRequest
from sandbox.ota.meituan_receiver import MeituanReceiver

SECRETS = {
    "MEITUAN_PARTNER_ID": "conformance-partner",
    "MEITUAN_CLIENT_ID": "conformance-client",
    "MEITUAN_CLIENT_SECRET": "conformance-secret",
    "MEITUAN_AES_KEY": "0123456789abcdef",
}


class MeituanProbe(ChannelProbe):
    channel = "meituan"
    settings: Mapping[str, str] = SECRETS
    codes = PartnerCodes(
        ok="200", bad_sign="401", parse_error="400", sold_out="502", conflict="507"
    )

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
        head, _, sig = request.headers["Authorization"].partition(":")
        return request.with_headers(Authorization=f"{head}:{broken(sig)}")

    def malformed(self, partner_order_id: str) -> ProbeRequest:
        """Correctly signed and announced as encrypted, but the body is not cipher text."""
        request = self.client.build(CREATE, {"orderId": partner_order_id})
        headers = {**request.headers, "X-Encryption-Status": "encrypted"}
        return ProbeRequest("POST", request.path, b"not-base64-cipher!!", headers=headers)

    def oversized(self, size: int) -> ProbeRequest:
        request = self.client.build(CREATE, {})
        data = b'{"partnerId":"x","body":"' + b"a" * size + b'"}'
        return ProbeRequest("POST", request.path, data, headers=dict(request.headers))

    def carrying(self, raw: bytes) -> ProbeRequest:
        """``raw`` as the envelope's ``body`` of a correctly signed order/create (MWS signs
        the method, URI and Date, not the body)."""
        request = self.client.build(CREATE, None)
        partner = json.dumps(SECRETS["MEITUAN_PARTNER_ID"]).encode()
        data = b'{"partnerId":' + partner + b',"body":' + raw + b"}"
        return ProbeRequest("POST", request.path, data, headers=dict(request.headers))

    def read(self, status: int, headers: Mapping[str, str], body: bytes) -> ProbeAnswer:
        reply = self.client.read(status, headers, body)
        return ProbeAnswer(reply.code, reply.body)

    # ------------------------------------------------------------------ callbacks

    def callback_settings(self, receiver_url: str) -> Mapping[str, str]:
        return {"MEITUAN_CALLBACK_URL": receiver_url}

    async def provoke_callback(self, kit: KitHub, partner_order_id: str) -> None:
        for tail, body in (
            (PAY, {"orderId": partner_order_id}),
            (REFUND, {"orderId": partner_order_id, "refundId": f"R-{partner_order_id}"}),
        ):
            await kit.expect_ok(self._probe(self.client.build(tail, body)), tail)

    def callback_identity(self, call: ReceivedCall) -> str:
        """Meituan's own checks (PartnerId, Date window, MWS signature, envelope), then
        the notice's identity: its path and Meituan's refundId (or order and totals)."""
        path = call.path
        code, why, plain, _ = self.receiver.check(call.target, call.headers, call.body)
        if code != 200:
            raise ValueError(f"not an authentic Meituan notice: {why}")
        if not isinstance(plain, dict):
            raise ValueError("notice body is not an object")
        key = plain.get("refundId") or f"{plain.get('orderId')}:{plain.get('usedQuantity')}"
        return f"{path}:{key}"

    def callback_answer(self, call: ReceivedCall) -> Answer:
        doc = {"code": 200, "describe": "success", "partnerId": SECRETS["MEITUAN_PARTNER_ID"]}
        return 200, {"Content-Type": "application/json"}, json.dumps(doc).encode()


__all__ = ["SECRETS", "MeituanProbe"]

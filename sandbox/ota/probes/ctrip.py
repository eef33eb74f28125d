"""Ctrip as the conformance kit drives it: CreatePreOrder is the stock-taking call.

Requests are built by `sandbox.ota.ctrip.CtripClient` (Ctrip's own envelope, a–p cipher
and md5 sign, written from the reference), answers read as Ctrip reads them.
"""

from __future__ import annotations

import json
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
from plugins.channel_ctrip.protocol import ctrip_decrypt, ctrip_sign
from sandbox.ota.ctrip import CtripClient
from sandbox.ota.ctrip_receiver import CtripReceiver

SECRETS = {
    "CTRIP_ACCOUNT_ID": "conformance-acct",
    "CTRIP_SIGN_KEY": "conformance-sign-key",
    "CTRIP_AES_KEY": "0123456789abcdef",
    "CTRIP_AES_IV": "fedcba9876543210",
}
CHECKER = CtripReceiver(
    SECRETS["CTRIP_ACCOUNT_ID"],
    SECRETS["CTRIP_SIGN_KEY"],
    SECRETS["CTRIP_AES_KEY"],
    SECRETS["CTRIP_AES_IV"],
)
"""Ctrip's checks of a callback, as the sandbox Ctrip makes them (never started here)."""
PATH = "/api/channels/ctrip"
JSON = {"Content-Type": "application/json; charset=utf-8"}


class CtripProbe(ChannelProbe):
    channel = "ctrip"
    settings: Mapping[str, str] = SECRETS
    codes = PartnerCodes(
        ok="0000", bad_sign="0002", parse_error="0001", sold_out="1003", conflict="1101"
    )

    def __init__(self) -> None:
        self.client = CtripClient(
            base_url="",
            account_id=SECRETS["CTRIP_ACCOUNT_ID"],
            sign_key=SECRETS["CTRIP_SIGN_KEY"],
            aes_key=SECRETS["CTRIP_AES_KEY"],
            aes_iv=SECRETS["CTRIP_AES_IV"],
            http=None,
        )

    def _post(self, data: bytes) -> ProbeRequest:
        return ProbeRequest("POST", PATH, data, headers=JSON)

    def order(
        self, partner_order_id: str, *, product: str, day: date, quantity: int
    ) -> ProbeRequest:
        body = {
            "otaOrderId": partner_order_id,
            "items": [
                {
                    "PLU": product,
                    "quantity": quantity,
                    "useStartDate": day.isoformat(),
                    "price": 100,
                }
            ],
            "contacts": [{"name": "Conformance", "mobile": "13800000000"}],
            "passengers": [],
        }
        return self._post(self.client.build("CreatePreOrder", body))

    def forge(self, request: ProbeRequest) -> ProbeRequest:
        doc = json.loads(request.body)
        doc["header"]["sign"] = broken(doc["header"]["sign"])
        return self._post(json.dumps(doc).encode())

    def malformed(self, partner_order_id: str) -> ProbeRequest:
        """Correctly signed, but the body is not a–p cipher text."""
        data = self.client.build("CreatePreOrder", {"otaOrderId": partner_order_id})
        doc = json.loads(data)
        doc["body"] = "zz" + doc["body"][2:]
        header = doc["header"]
        header["sign"] = ctrip_sign(
            header["accountId"],
            header["serviceName"],
            header["requestTime"],
            doc["body"],
            header["version"],
            SECRETS["CTRIP_SIGN_KEY"],
        )
        return self._post(json.dumps(doc).encode())

    def oversized(self, size: int) -> ProbeRequest:
        return self._post(b'{"header":{},"body":"' + b"a" * size + b'"}')

    def carrying(self, raw: bytes) -> ProbeRequest:
        """``raw`` encrypted as the body of a correctly signed CreatePreOrder."""
        return self._post(self.client.build("CreatePreOrder", None, raw=raw))

    def read(self, status: int, headers: Mapping[str, str], body: bytes) -> ProbeAnswer:
        doc: dict[str, Any] = json.loads(body)
        plain = None
        if "body" in doc:
            plain = json.loads(
                ctrip_decrypt(doc["body"], SECRETS["CTRIP_AES_KEY"], SECRETS["CTRIP_AES_IV"])
            )
        return ProbeAnswer(str(doc["header"]["resultCode"]), plain)

    # ------------------------------------------------------------------ callbacks

    def callback_settings(self, receiver_url: str) -> Mapping[str, str]:
        """Callbacks to the kit's receiver; PayPreOrder answered "pending", so paying an
        order queues exactly one PayPreOrderConfirm."""
        return {"CTRIP_CALLBACK_URL": receiver_url, "CTRIP_ASYNC_SERVICES": "PayPreOrder"}

    async def provoke_callback(self, kit: KitHub, partner_order_id: str) -> None:
        data = self.client.build("PayPreOrder", {"otaOrderId": partner_order_id})
        await kit.expect_ok(self._post(data), "PayPreOrder")

    def callback_identity(self, call: ReceivedCall) -> str:
        """Ctrip's own checks (the sandbox Ctrip's: account, md5 sign over the cipher
        body, decryption), then the call's identity: its service and the sequenceId of
        the request it confirms."""
        code, message, header, plain = CHECKER.check(call.body)
        if code != "0000":
            raise ValueError(f"not a Ctrip callback: {code} {message}")
        ids = plain if isinstance(plain, dict) else {}
        return f"{header['serviceName']}:{ids.get('sequenceId') or ids.get('otaOrderId')}"

    def callback_answer(self, call: ReceivedCall) -> Answer:
        doc = {"header": {"resultCode": "0000", "resultMessage": "success"}}
        return 200, JSON, json.dumps(doc).encode()

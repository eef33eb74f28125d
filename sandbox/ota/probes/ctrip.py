"""Ctrip as the conformance kit drives it: CreatePreOrder is the stock-taking call.

Requests are built by `sandbox.ota.ctrip.CtripClient` (Ctrip's own envelope, a–p cipher
and md5 sign, written from the reference), answers read as Ctrip reads them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from typing import Any

from hub.channels.codecs import ctrip_decrypt
from hub.testing.conformance import ProbeAnswer, ProbeRequest
from sandbox.ota.ctrip import CtripClient

SECRETS = {
    "CTRIP_ACCOUNT_ID": "conformance-acct",
    "CTRIP_SIGN_KEY": "conformance-sign-key",
    "CTRIP_AES_KEY": "0123456789abcdef",
    "CTRIP_AES_IV": "fedcba9876543210",
}
PATH = "/api/channels/ctrip"
JSON = {"Content-Type": "application/json; charset=utf-8"}


class CtripProbe:
    channel = "ctrip"
    settings: Mapping[str, str] = SECRETS
    ok_codes = frozenset({"0000"})
    bad_sign_codes = frozenset({"0002"})
    parse_error_codes = frozenset({"0001"})
    sold_out_codes = frozenset({"1003"})
    conflict_codes = frozenset({"1101"})

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
        sign = doc["header"]["sign"]
        doc["header"]["sign"] = ("0" if sign[0] != "0" else "1") + sign[1:]
        return self._post(json.dumps(doc).encode())

    def malformed(self, partner_order_id: str) -> ProbeRequest:
        """Correctly signed, but the body is not a–p cipher text."""
        data = self.client.build("CreatePreOrder", {"otaOrderId": partner_order_id})
        doc = json.loads(data)
        doc["body"] = "zz" + doc["body"][2:]
        header = doc["header"]
        from hub.channels.codecs import ctrip_sign

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

    def read(self, status: int, headers: Mapping[str, str], body: bytes) -> ProbeAnswer:
        doc: dict[str, Any] = json.loads(body)
        plain = None
        if "body" in doc:
            plain = json.loads(
                ctrip_decrypt(doc["body"], SECRETS["CTRIP_AES_KEY"], SECRETS["CTRIP_AES_IV"])
            )
        return ProbeAnswer(str(doc["header"]["resultCode"]), plain)

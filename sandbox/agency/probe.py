"""A travel agency as the conformance kit drives it: ``POST /api/agency/groups`` (stock
and money in one step) is the stock-taking call.

Every request is signed as `plugins.channel_agency.signing` documents, through the same
`signed_headers` the sandbox `AgencyClient` uses; answers are read as that client reads
them (2xx = ``ACCEPTED``, otherwise the body's ``code``). Two things differ from an OTA:

- The agency needs an account before it can book: `prepare` creates one on the kit's hub
  through the staff API (payment on credit, a limit far above what the checks spend) and
  issues its API key, exactly as staff onboard an agency.
- Every transmission carries a fresh nonce, and the hub refuses a nonce it has seen
  (``REPLAYED``). So an agency's retry of a group is the same body re-signed (`resend`),
  and the replay check holds the hub to the agency API's promise: idempotent on
  ``order_no``. The agency gets no callbacks (it polls ``GET /api/agency/groups/…``),
  so the kit's callback check is skipped with that reason.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from datetime import date
from typing import Any, ClassVar

from hub.testing.conformance import (
    ChannelProbe,
    KitHub,
    PartnerCodes,
    ProbeAnswer,
    ProbeRequest,
    broken,
)
from plugins.channel_agency.signing import SIGNATURE_HEADER, signed_headers
from sandbox.agency.client import Reply
from sandbox.demo.ids import visitor

AGENCY = "conformance-travel"
GROUPS = "/api/agency/groups"
CREDIT_LIMIT = 100_000_000  # fen: no check may be refused for want of money


class AgencyProbe(ChannelProbe):
    channel = "agency"
    settings: Mapping[str, str] = {}
    codes = PartnerCodes(
        ok="ACCEPTED",  # `Reply.code` of any 2xx
        bad_sign="BAD_SIGNATURE",
        parse_error={"INVALID_REQUEST", "BODY_TOO_LARGE"},
        sold_out="SOLD_OUT",
        conflict="IDEMPOTENCY_CONFLICT",
    )
    no_callbacks: ClassVar[str | None] = (
        "agencies poll GET /api/agency/groups/{order_no}; the hub never calls them"
    )

    def __init__(self) -> None:
        self.key_id = ""
        self.secret = ""

    async def prepare(self, kit: KitHub) -> None:
        """An active agency paying on credit, and its API key (one per kit hub)."""
        await kit.admin(
            "PUT",
            f"/api/admin/agencies/{AGENCY}",
            {"name": "Conformance Travel", "payment": "credit", "credit_limit": CREDIT_LIMIT},
        )
        creds = await kit.admin("POST", f"/api/admin/agencies/{AGENCY}/credentials")
        self.key_id, self.secret = str(creds["key_id"]), str(creds["secret"])

    def _signed(self, body: bytes, *, path: str = GROUPS) -> ProbeRequest:
        if not self.key_id:
            raise RuntimeError("AgencyProbe: prepare(kit) issues the key before any request")
        headers = signed_headers(
            self.key_id, self.secret, "POST", path, None, body, now=int(time.time())
        )
        headers["Content-Type"] = "application/json"
        return ProbeRequest("POST", path, body, headers=headers)

    def order(
        self, partner_order_id: str, *, product: str, day: date, quantity: int
    ) -> ProbeRequest:
        group = {
            "order_no": partner_order_id,
            "product_id": product,
            "travel_date": day.isoformat(),
            "head_count": quantity,
            "guide": {"name": "Guide Zhao", "licence_no": "D-0001", "phone": "13800138000"},
            # A group is booked with its roster (the hub refuses one without: ROSTER_REQUIRED).
            "visitors": [visitor(100 + i, 35, day) for i in range(quantity)],
        }
        return self._signed(json.dumps(group).encode())

    def resend(self, request: ProbeRequest) -> ProbeRequest:
        """The agency's retry: the same body, a fresh nonce and timestamp."""
        return self._signed(request.body, path=request.path)

    def forge(self, request: ProbeRequest) -> ProbeRequest:
        return request.with_headers(**{SIGNATURE_HEADER: broken(request.headers[SIGNATURE_HEADER])})

    def malformed(self, partner_order_id: str) -> ProbeRequest:
        """Correctly signed, but the JSON stops mid-document."""
        return self._signed(b'{"order_no": "' + partner_order_id.encode() + b'", "head_count": ')

    def oversized(self, size: int) -> ProbeRequest:
        return self._signed(b'{"order_no": "' + b"x" * size + b'"}')

    def carrying(self, raw: bytes) -> ProbeRequest:
        return self._signed(raw)

    def read(self, status: int, headers: Mapping[str, str], body: bytes) -> ProbeAnswer:
        """The group for an accepted booking (``replay`` only says whether this
        transmission was the first, so it is not part of the answer); the code else."""
        doc: Any = json.loads(body)
        reply = Reply(status, doc)
        return ProbeAnswer(reply.code, doc["group"] if reply.code == "ACCEPTED" else doc)


__all__ = ["AGENCY", "AgencyProbe"]

"""Douyin as the conformance kit drives it: ``create_order`` is the stock-taking call.

Requests are built by `sandbox.ota.douyin.DouyinClient` (Douyin's query ``timestamp``,
``x-life-clientkey`` and sha256 ``x-life-sign`` over the sorted query and raw body,
written from the reference), answers read as Douyin reads them (``data.error_code``).

Callbacks: Douyin's only callback is the certificate verify on REDEMPTION, and one
verify is three requests to Douyin's OpenAPI (``client_token``, ``certificate/prepare``,
``certificate/verify``). `provoke_callback` pays the order over HTTP as Douyin, then
admits one ticket the way the hub's redemption recording does (ticket and
``ticket_redeemed`` calls in one transaction: the hub has no redemption API yet).
`callback_identity` names all three requests of one voucher's verify; the kit's generic
receiver counts them as separate callbacks, so ``tests/douyin/test_conformance.py``
runs its own version of the callback check against the sandbox OpenAPI (see there).
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy import update

from hub import Redemption
from hub.api.app import HUB
from hub.orders import records
from hub.storage.tables import TicketRow
from hub.testing.conformance import ProbeAnswer, ProbeRequest
from sandbox.ota.douyin import DouyinClient, spi_sign

SECRETS = {
    "DOUYIN_CLIENT_KEY": "awk-conformance",
    "DOUYIN_CLIENT_SECRET": "conformance-client-secret",
}
KIT_TOKEN = "clt.conformance-kit-token"


class DouyinProbe:
    channel = "douyin"
    settings: Mapping[str, str] = SECRETS
    ok_codes = frozenset({"0"})
    bad_sign_codes = frozenset({"999999"})
    parse_error_codes = frozenset({"999999"})
    sold_out_codes = frozenset({"1"})
    conflict_codes = frozenset({"999999"})

    def __init__(self) -> None:
        self.client = DouyinClient(
            SECRETS["DOUYIN_CLIENT_KEY"], SECRETS["DOUYIN_CLIENT_SECRET"], http=None
        )

    def _request(self, operation: str, body: Any) -> ProbeRequest:
        req = self.client.build(operation, body)
        return ProbeRequest("POST", req.path, req.body, req.query, dict(req.headers))

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
        sign = request.headers["x-life-sign"]
        broken = ("0" if sign[0] != "0" else "1") + sign[1:]
        return ProbeRequest(
            request.method,
            request.path,
            request.body,
            request.query,
            {**request.headers, "x-life-sign": broken},
        )

    def malformed(self, partner_order_id: str) -> ProbeRequest:
        """Correctly signed (query and these very bytes), but not JSON."""
        raw = b'{"order_id":"' + partner_order_id.encode() + b'","count":'
        req = self.client.build("create_order", {})
        query = dict(req.query)
        sign = spi_sign(SECRETS["DOUYIN_CLIENT_SECRET"], query, raw, "sha256")
        return ProbeRequest("POST", req.path, raw, req.query, {**req.headers, "x-life-sign": sign})

    def oversized(self, size: int) -> ProbeRequest:
        raw = b'{"order_id":"' + b"x" * size + b'"}'
        req = self.client.build("create_order", {})
        query = dict(req.query)
        sign = spi_sign(SECRETS["DOUYIN_CLIENT_SECRET"], query, raw, "sha256")
        return ProbeRequest("POST", req.path, raw, req.query, {**req.headers, "x-life-sign": sign})

    def read(self, status: int, headers: Mapping[str, str], body: bytes) -> ProbeAnswer:
        data = json.loads(body)["data"]
        return ProbeAnswer(str(data["error_code"]), data)

    # ------------------------------------------------------------------ callbacks

    def callback_settings(self, receiver_url: str) -> Mapping[str, str]:
        return {"DOUYIN_OPENAPI_URL": receiver_url, "DOUYIN_POI_ID": "conformance-poi"}

    async def provoke_callback(self, client: Any, partner_order_id: str) -> None:
        """Pay over HTTP as Douyin, then admit the order's first ticket (one verify)."""
        req = self.client.build("pay_notify", {"order_id": partner_order_id})
        resp = await client.post(
            req.path, data=io.BytesIO(req.body), params=list(req.query), headers=dict(req.headers)
        )
        answer = self.read(resp.status, dict(resp.headers), await resp.read())
        if answer.code != "0":
            raise AssertionError(f"pay_notify refused: {answer}")
        await redeem_first_ticket(client, partner_order_id)

    def callback_identity(
        self,
        method: str,
        path: str,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        body: bytes,
    ) -> str:
        """Douyin's own checks: the client credentials on ``client_token``, the token
        it issued (`KIT_TOKEN`) on the others; the identity is the voucher's."""
        try:
            if path.endswith("/client_token/"):
                doc = json.loads(body)
                if (
                    doc.get("client_key") != SECRETS["DOUYIN_CLIENT_KEY"]
                    or doc.get("client_secret") != SECRETS["DOUYIN_CLIENT_SECRET"]
                    or doc.get("grant_type") != "client_credential"
                ):
                    raise ValueError("bad client credentials")
                return "client_token"
            token = {k.lower(): v for k, v in headers.items()}.get("access-token")
            if token != KIT_TOKEN:
                raise ValueError("access-token missing or not issued")
            if path.endswith("/certificate/prepare/"):
                return f"verify:{query['code']}"
            doc = json.loads(body)
            return f"verify:{doc['verify_token']}:{','.join(doc['encrypted_codes'])}"
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a Douyin OpenAPI call: {exc}") from None

    def callback_answer(self) -> tuple[int, Mapping[str, str], bytes]:
        """One answer that satisfies all three calls (token, prepare, verify)."""
        data = {
            "error_code": 0,
            "description": "",
            "access_token": KIT_TOKEN,
            "expires_in": 7200,
            "verify_token": "vt-conformance",
            "certificates": [{"encrypted_code": "enc-conformance"}],
            "verify_results": [{"result": 0, "msg": ""}],
        }
        doc = {"data": data, "extra": {"error_code": 0, "now": int(time.time())}}
        return 200, {"Content-Type": "application/json"}, json.dumps(doc).encode()


async def redeem_first_ticket(client: Any, partner_order_id: str) -> None:
    """Admit the order's first unused ticket as the hub's redemption recording does:
    the entry and the ``ticket_redeemed`` hook's calls in ONE transaction."""
    hub = client.app[HUB]
    tix = TicketRow.__table__
    async with hub.engine.begin() as conn:
        found = await records.load_order(conn, channel="douyin", partner_order_id=partner_order_id)
        if found is None:
            raise AssertionError(f"no douyin order {partner_order_id}")
        ticket = next(t for t in found.tickets if not t.entries_used)
        await conn.execute(
            update(tix)
            .where(tix.c.id == ticket.id)
            .values(entries_used=tix.c.entries_used + 1, state="used")
        )
        after = await records.load_order(conn, order_id=found.id)
        assert after is not None
        admitted = next(t for t in after.tickets if t.id == ticket.id)
        redemption = Redemption(
            id=f"conformance-{ticket.id}",
            ticket_id=ticket.id,
            venue_id=after.venue_id,
            gate="conformance-gate",
            at=hub.clock.now(),
        )
        await hub.outbox.enqueue(conn, hub.plugins.ticket_redeemed(after, admitted, redemption))

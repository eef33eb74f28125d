"""A sandbox agency client: every request signed exactly as `plugins.channel_agency.signing`
documents (key, Unix timestamp, fresh nonce, HMAC-SHA256 over the canonical request with
the raw body's SHA-256), and rosters uploaded as CSV or Excel files.

It speaks only HTTP to the hub, so it is also what an integrator can copy."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from hub.domain import Visitor
from plugins.channel_agency.roster import to_csv, to_xlsx
from plugins.channel_agency.signing import signed_headers


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: Any

    @property
    def code(self) -> str:
        if 200 <= self.status < 300:
            return "ACCEPTED"
        return str(self.body.get("code")) if isinstance(self.body, dict) else f"HTTP_{self.status}"


@dataclass
class AgencyClient:
    http: aiohttp.ClientSession
    base_url: str
    key_id: str
    secret: str
    clock: Callable[[], float] = field(default=time.time)

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bytes | None = None,
        content_type: str = "application/json",
        query: dict[str, str] | None = None,
    ) -> Reply:
        data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
        headers = signed_headers(
            self.key_id, self.secret, method, path, query, data, now=int(self.clock())
        )
        headers["Content-Type"] = content_type
        url = f"{self.base_url}{path}"
        async with self.http.request(method, url, data=data, headers=headers, params=query) as r:
            try:
                parsed: Any = await r.json(content_type=None)
            except ValueError:
                parsed = await r.text()
            return Reply(r.status, parsed)

    async def account(self) -> Reply:
        return await self.request("GET", "/api/agency/account")

    async def upload_roster(self, visitors: Sequence[Visitor], *, excel: bool = False) -> Reply:
        if excel:
            return await self.request(
                "POST",
                "/api/agency/rosters",
                raw=to_xlsx(visitors),
                content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                query={"filename": "roster.xlsx"},
            )
        return await self.request(
            "POST",
            "/api/agency/rosters",
            raw=to_csv(visitors),
            content_type="text/csv",
            query={"filename": "roster.csv"},
        )

    async def book(self, group: dict[str, Any]) -> Reply:
        return await self.request("POST", "/api/agency/groups", group)

    async def group(self, order_no: str) -> Reply:
        return await self.request("GET", f"/api/agency/groups/{order_no}")

    async def amend(
        self,
        order_no: str,
        amendment_no: str,
        *,
        remove: Sequence[str] = (),
        add: Sequence[Visitor] = (),
    ) -> Reply:
        body = {
            "amendment_no": amendment_no,
            "remove": list(remove),
            "add": [v.model_dump(mode="json") for v in add],
        }
        return await self.request("POST", f"/api/agency/groups/{order_no}/amendments", body)

    async def refund(
        self, order_no: str, refund_no: str, ticket_ids: Sequence[str] | None = None
    ) -> Reply:
        body: dict[str, Any] = {"refund_no": refund_no}
        if ticket_ids is not None:
            body["ticket_ids"] = list(ticket_ids)
        return await self.request("POST", f"/api/agency/groups/{order_no}/refund", body)

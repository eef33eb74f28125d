"""The mini-program's side of ``/api/wechat``: what the front end does with ``wx.login``,
``wx.requestPayment`` and the hub's answers. Tests and the demo both drive the channel
through it, over HTTP (an `aiohttp.ClientSession` with a base URL, or pytest-aiohttp's
``TestClient`` with base ``""``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: Any

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def code(self) -> str:
        if self.ok:
            return "OK"
        return str(self.body.get("code")) if isinstance(self.body, dict) else f"HTTP_{self.status}"

    @property
    def order(self) -> dict[str, Any]:
        return dict(self.body.get("order") or {}) if isinstance(self.body, dict) else {}


class MiniProgramClient:
    def __init__(self, http: Any, base_url: str = "") -> None:
        self.http = http
        self.base = base_url.rstrip("/")
        self.token = ""

    async def call(self, method: str, path: str, body: Any = None, **kw: Any) -> Reply:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        async with self.http.request(
            method, f"{self.base}/api/wechat{path}", json=body, headers=headers, **kw
        ) as resp:
            try:
                parsed: Any = await resp.json(content_type=None)
            except ValueError:
                parsed = await resp.text()
            return Reply(resp.status, parsed)

    async def login(self, js_code: str) -> Reply:
        reply = await self.call("POST", "/login", {"js_code": js_code})
        if reply.ok:
            self.token = str(reply.body["token"])
        return reply

    async def availability(self, product_id: str, day: str) -> Reply:
        return await self.call("GET", f"/availability?product_id={product_id}&date={day}")

    async def order(
        self,
        client_key: str,
        product_id: str,
        day: str,
        slot: str,
        quantity: int,
        visitors: list[dict[str, Any]] | None = None,
    ) -> Reply:
        return await self.call(
            "POST",
            "/orders",
            {
                "client_key": client_key,
                "product_id": product_id,
                "travel_date": day,
                "slot": slot,
                "quantity": quantity,
                "visitors": visitors or [],
            },
        )

    async def mine(self) -> Reply:
        return await self.call("GET", "/orders")

    async def get(self, out_trade_no: str) -> Reply:
        return await self.call("GET", f"/orders/{out_trade_no}")

    async def cancel(self, out_trade_no: str) -> Reply:
        return await self.call("POST", f"/orders/{out_trade_no}/cancel")

    async def refund(
        self, out_trade_no: str, request_no: str, tickets: list[str] | None = None
    ) -> Reply:
        body: dict[str, Any] = {"request_no": request_no}
        if tickets is not None:
            body["ticket_ids"] = tickets
        return await self.call("POST", f"/orders/{out_trade_no}/refund", body)

    async def phone(self, encrypted: dict[str, str]) -> Reply:
        return await self.call(
            "POST", "/phone", {"encrypted_data": encrypted["encryptedData"], "iv": encrypted["iv"]}
        )

"""A sandbox TOP gateway (Taobao Open Platform) receiving our Fliggy calls as TOP would.

It listens on 127.0.0.1 at ``/router/rest`` and checks each call the way the gateway
does: the form (or query) parameters, the system parameters (``method``, ``app_key``,
``timestamp`` in GMT+8 within its window, ``format``, ``v``, ``sign_method``), the
signature over the parameters sorted by name — ``md5`` as ``upper(md5(secret + k1v1… +
secret))``, ``hmac`` as ``upper(HMAC-MD5(secret, k1v1…))``, ``hmac-sha256`` as
``upper(HMAC-SHA256(secret, k1v1…))`` — then the API's own parameters. Written inline
with hashlib/hmac from the public formulas, never with the hub's code, so a test through
it checks the hub against TOP rather than against itself.

Answers are TOP's: ``{"travel_ticket_order_verify_response": {...}}`` on success,
``{"error_response": {"code", "msg", "sub_code", "sub_msg"}}`` on failure.

Ledger: `received` (every attempt), `accepted` (calls TOP answered with success), and
per order the quantity Fliggy believes used (`used`): ``write_off_type 0`` adds each
call's ``used_quantity`` — which is why a repeated ``serial_num`` is answered success but
NOT applied again, and listed in `duplicates` — ``1`` replaces the totals.

Faults, consumed one per incoming call (`fail`) or per API (`fail_method`):

``"timeout"``   hold the call past the sender's timeout (after applying it: TOP did the
                work, only its answer is lost — the case that needs ``serial_num``)
``"500"``       HTTP 500 (any 5xx code)
``"slow:S"``    wait S seconds, then handle normally
``"top:C"`` / ``"top:C:SUB"``  an ``error_response`` with code C and sub_code SUB
                (``top:7`` call limit, ``top:15:isp.remote-service-unavailable``,
                ``top:15:isv.invalid-parameter``)
``"ok"``        no fault
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
from collections import Counter, defaultdict, deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from sandbox.ota.stock_book import StockBook

BEIJING = ZoneInfo("Asia/Shanghai")
PATH = "/router/rest"
VERIFY = "taobao.travel.ticket.order.verify"
REFUND = "taobao.travel.ticket.order.refund"
SKUS_UPLOAD = "alitrip.ticket.skus.upload"
APIS = (VERIFY, REFUND, SKUS_UPLOAD)


def top_signature(params: dict[str, str], secret: str, method: str) -> str:
    """TOP's signature as the gateway computes it (``sign`` itself excluded)."""
    text = "".join(f"{k}{v}" for k, v in sorted(params.items()) if k != "sign").encode()
    key = secret.encode()
    if method == "hmac":
        return hmac.new(key, text, hashlib.md5).hexdigest().upper()
    if method == "hmac-sha256":
        return hmac.new(key, text, hashlib.sha256).hexdigest().upper()
    return hashlib.md5(key + text + key).hexdigest().upper()


def response_key(method: str) -> str:
    return method.removeprefix("taobao.").replace(".", "_") + "_response"


class TopError(Exception):
    def __init__(self, code: int, msg: str, sub_code: str = "", sub_msg: str = "") -> None:
        super().__init__(f"{code} {sub_code}")
        self.doc = {"code": code, "msg": msg, "request_id": "sandbox"}
        if sub_code:
            self.doc.update({"sub_code": sub_code, "sub_msg": sub_msg or sub_code})


@dataclass(frozen=True, slots=True)
class TopCall:
    """One API call as the gateway read it."""

    method: str
    params: dict[str, str]
    answer: str  # "ok", a TOP code, "5xx", "timeout"

    @property
    def order_id(self) -> str:
        return self.params.get("order_id", "")

    @property
    def serial(self) -> str:
        return self.params.get("serial_num", "")

    def json(self, name: str) -> Any:
        return json.loads(self.params[name])


class TopGateway:
    """TOP's router for one app (``start`` → the gateway URL; ``close`` when done)."""

    def __init__(
        self,
        app_key: str,
        secret: str,
        *,
        now: Any = None,
        max_skew: timedelta = timedelta(minutes=10),
        hang_seconds: float = 2.0,
    ) -> None:
        self.app_key = app_key
        self.secret = secret
        self.now = now or (lambda: datetime.now(UTC))
        self.max_skew = max_skew
        self.hang_seconds = hang_seconds
        self.received: list[TopCall] = []
        self.accepted: list[TopCall] = []
        self.duplicates: list[TopCall] = []
        self.used: dict[str, dict[str, int]] = defaultdict(dict)
        self.refund_status: dict[str, list[int]] = defaultdict(list)
        self.attempts: Counter[str] = Counter()
        self.sign_methods: Counter[str] = Counter()
        self._faults: deque[str] = deque()
        self._method_faults: dict[str, deque[str]] = defaultdict(deque)
        self._serials: set[tuple[str, str]] = set()
        self._runner: web.AppRunner | None = None
        self._closing = asyncio.Event()
        self.stock = StockBook(per_minute=50)  # skus.upload: what Fliggy shows

    # ------------------------------------------------------------------ control

    def fail(self, *faults: str) -> None:
        self._faults.extend(faults)

    def fail_method(self, method: str, *faults: str) -> None:
        self._method_faults[method].extend(faults)

    def of(self, method: str) -> list[TopCall]:
        return [c for c in self.accepted if c.method == method]

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post(PATH, self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return f"http://127.0.0.1:{port}{PATH}"

    async def close(self) -> None:
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()

    # ------------------------------------------------------------------ handling

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        params = {k: v for k, v in request.query.items()}
        if request.content_type == "application/x-www-form-urlencoded":
            params.update({k: str(v) for k, v in (await request.post()).items()})
        method = params.get("method", "")
        self.attempts[method] += 1
        fault = self._next_fault(method)
        if fault.startswith("slow:"):
            await asyncio.sleep(float(fault.split(":", 1)[1]))
        elif fault[:1] == "5":
            self.received.append(TopCall(method, params, "5xx"))
            return web.Response(status=int(fault), text="gateway trouble")
        try:
            if fault.startswith("top:"):
                _, code, *sub = fault.split(":", 2)
                raise TopError(int(code), "sandbox fault", sub[0] if sub else "")
            self._check(params)
            body = self._apply(method, params)
        except TopError as exc:
            self.received.append(TopCall(method, params, str(exc.doc["code"])))
            return web.json_response({"error_response": exc.doc})
        if fault == "timeout":
            # Applied, but the answer never arrives before the sender gives up.
            self.received.append(TopCall(method, params, "timeout"))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), self.hang_seconds)
            return web.Response(status=504)
        call = TopCall(method, params, "ok")
        self.received.append(call)
        self.accepted.append(call)
        return web.json_response({response_key(method): body})

    def _next_fault(self, method: str) -> str:
        if self._method_faults[method]:
            return self._method_faults[method].popleft()
        if method == SKUS_UPLOAD:  # stock traffic must not use up an order outage
            return "ok"
        return self._faults.popleft() if self._faults else "ok"

    def _check(self, params: dict[str, str]) -> None:
        for name in ("method", "app_key", "timestamp", "sign", "v", "sign_method"):
            if not params.get(name):
                raise TopError(40, "Missing Required Arguments", f"missing-{name}")
        if params["app_key"] != self.app_key:
            raise TopError(29, "Invalid App Key")
        if params.get("format", "xml") != "json":
            raise TopError(41, "Invalid Arguments", "isv.format-not-json")
        if params["v"] != "2.0":
            raise TopError(41, "Invalid Arguments", "isv.invalid-version")
        if params["sign_method"] not in ("md5", "hmac", "hmac-sha256"):
            raise TopError(41, "Invalid Arguments", "isv.invalid-sign-method")
        try:
            at = datetime.strptime(params["timestamp"], "%Y-%m-%d %H:%M:%S")
        except ValueError:
            raise TopError(41, "Invalid Timestamp") from None
        skew = abs(self.now() - at.replace(tzinfo=BEIJING))
        if skew > self.max_skew:
            raise TopError(31, "Invalid Timestamp")
        expected = top_signature(params, self.secret, params["sign_method"])
        if not hmac.compare_digest(expected, params["sign"].upper()):
            raise TopError(25, "Invalid Signature")
        self.sign_methods[params["sign_method"]] += 1
        if params["method"] not in APIS:
            raise TopError(22, "Invalid Method")

    def _apply(self, method: str, params: dict[str, str]) -> dict[str, Any]:
        if method == SKUS_UPLOAD:
            return self._skus_upload(params)
        order = params.get("order_id", "")
        if not order:
            raise TopError(40, "Missing Required Arguments", "isv.missing-parameter:order_id")
        serial = params.get("serial_num", "")
        seen = bool(serial) and (method, serial) in self._serials
        if seen:
            self.duplicates.append(TopCall(method, params, "ok"))
            return {"result": {"success": True, "duplicate": True}}
        if method == VERIFY:
            self._verify(order, params)
        else:
            status = params.get("refund_status", "")
            if status not in ("1", "2"):
                raise TopError(41, "Invalid Arguments", "isv.invalid-parameter:refund_status")
            self.refund_status[order].append(int(status))
        if serial:
            self._serials.add((method, serial))
        return {"result": {"success": True}}

    def _verify(self, order: str, params: dict[str, str]) -> None:
        try:
            infos = json.loads(params.get("voucher_infos", ""))
            mode = int(params.get("write_off_type", ""))
            rows = [(str(i["confirm_code"]), int(i["used_quantity"])) for i in infos]
            if not all(isinstance(i["used_date"], str) for i in infos):
                raise ValueError("used_date")
        except (ValueError, TypeError, KeyError):
            raise TopError(41, "Invalid Arguments", "isv.invalid-parameter:voucher_infos") from None
        if mode not in (0, 1) or not rows:
            raise TopError(41, "Invalid Arguments", "isv.invalid-parameter:write_off_type")
        used = self.used[order]
        for code, quantity in rows:
            used[code] = used.get(code, 0) + quantity if mode == 0 else quantity

    def _skus_upload(self, params: dict[str, str]) -> dict[str, Any]:
        """Ticket v2.0 price/stock: one product, per rule (slot) its dated stock rows."""
        product = params.get("out_product_id", "")
        try:
            rules = json.loads(params.get("price_rules", ""))
            rows = [
                (str(r["date"]), str(rule.get("ticket_season", "")), int(r["stock"]))
                for rule in rules
                for r in rule["date_inventorys"]
            ]
        except (ValueError, TypeError, KeyError):
            raise TopError(41, "Invalid Arguments", "isv.invalid-parameter:price_rules") from None
        if not product or not params.get("ticket_type") or len(rules) > 50:
            raise TopError(41, "Invalid Arguments", "isv.invalid-parameter:out_product_id")
        if self.stock.admit(product) is not None:
            raise TopError(7, "App Call Limited", "accesscontrol.limited-by-api-access-count")
        self.stock.record(product, [(d, "" if s == "ALL_DAY" else s, q) for d, s, q in rows])
        return {"result": {"success": True}}

    def used_total(self, order: str) -> int:
        return sum(self.used.get(order, {}).values())

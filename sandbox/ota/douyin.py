"""A sandbox Douyin (抖音来客): the SPI caller and the fulfilment OpenAPI, from Douyin's side.

Written from the public facts (``shared/reference/channels.md#douyin``) with hashlib,
never with the hub's adapter, so a test through it checks the hub against Douyin's
protocol rather than against itself:

`DouyinClient`
    calls our SPI URLs exactly as Douyin does: the JSON body, ``timestamp`` (ms) in the
    query, ``x-life-clientkey``, and the signature over ``client_secret`` + ``&k=v`` of
    the sorted query + ``&http_body=<raw body>`` — sha256 in ``x-life-sign`` (new) or
    md5 in the ``sign`` query parameter (legacy). Douyin's retries (create order: 12
    times a minute apart) are re-signed with a fresh timestamp: `call_retrying`.
`DouyinOpenApi`
    an aiohttp server on 127.0.0.1: ``/oauth/client_token/`` (checks the client key and
    secret, issues expiring tokens), ``certificate/prepare`` (GET ``code``: a
    ``verify_token`` and the ``encrypted_code``), ``certificate/verify`` (checks the
    ``access-token``, DEDUPES on ``verify_token``: the same token twice is the first
    answer, a second token for a verified certificate is refused), ``certificate/cancel``.
    It can be told to fail (`fail`: timeouts, 5xx, busy codes, an expired token, slow
    answers) and keeps a ledger (`verified`, `tokens_issued`, `double_verifies`).
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import secrets
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from sandbox.ota.settlement import SettlementBook

__all__ = ["DouyinClient", "DouyinOpenApi", "DouyinReply", "SpiRequest", "spi_sign"]

SPI_PREFIX = "/api/channels/douyin"
TOKEN_PATH = "/oauth/client_token/"
PREPARE_PATH = "/goodlife/v1/fulfilment/certificate/prepare/"
VERIFY_PATH = "/goodlife/v1/fulfilment/certificate/verify/"
CANCEL_PATH = "/goodlife/v1/fulfilment/certificate/cancel/"
PART_REFUND_PATH = "/goodlife/v1/fulfilment/certificate/part_refund/"
"""Not in Douyin's stored docs: the path the hub's spec names (*unconfirmed*)."""
RETRY_CODE = 100


def spi_sign(
    client_secret: str, query: Mapping[str, str], body: bytes, algo: str = "sha256"
) -> str:
    """Douyin's SPI signature: secret, then ``&k=v`` for the query sorted by key (then
    value) without ``sign``, then ``&http_body=`` and the raw body when there is one."""
    pairs = sorted((k, v) for k, v in query.items() if k != "sign")
    raw = (client_secret + "".join(f"&{k}={v}" for k, v in pairs)).encode("utf-8")
    if body:
        raw += b"&http_body=" + body
    return hashlib.new(algo, raw).hexdigest()


@dataclass(frozen=True, slots=True)
class SpiRequest:
    """One SPI call as Douyin sends it."""

    path: str
    body: bytes
    query: tuple[tuple[str, str], ...]
    headers: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class DouyinReply:
    """Douyin's reading of our answer: ``data.error_code``, ``description``, ``data``."""

    status: int
    code: int | None
    description: str
    data: Any
    raw: bytes

    @property
    def ok(self) -> bool:
        return self.code == 0


@dataclass
class DouyinClient:
    """Calls the supplier's SPI URLs as Douyin does (see the module doc)."""

    client_key: str
    client_secret: str
    http: Any  # an aiohttp ClientSession or an aiohttp TestClient
    base_url: str = ""
    scheme: str = "sha256"  # "sha256" (x-life-sign), "md5" (legacy sign), "both"
    now_ms: Callable[[], int] = field(default=lambda: int(time.time() * 1000))
    retry_interval: float = 0.0  # Douyin waits a minute; tests do not
    settlement: SettlementBook = field(default_factory=lambda: SettlementBook("douyin"))

    def build(self, operation: str, body: Any, *, timestamp: int | None = None) -> SpiRequest:
        raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        query = {"timestamp": str(timestamp if timestamp is not None else self.now_ms())}
        headers = {"Content-Type": "application/json", "x-life-clientkey": self.client_key}
        if self.scheme in ("sha256", "both"):
            headers["x-life-sign"] = spi_sign(self.client_secret, query, raw, "sha256")
        if self.scheme in ("md5", "both"):
            query["sign"] = spi_sign(self.client_secret, query, raw, "md5")
        return SpiRequest(f"{SPI_PREFIX}/{operation}", raw, tuple(query.items()), headers)

    async def send(self, req: SpiRequest) -> DouyinReply:
        """Post the request as built (tests tamper with it) and read the answer."""
        resp = await self.http.post(
            f"{self.base_url}{req.path}",
            data=io.BytesIO(req.body),
            params=list(req.query),
            headers=dict(req.headers),
        )
        raw = await resp.read()
        try:
            data = json.loads(raw)["data"]
            code = data["error_code"]
        except (ValueError, KeyError, TypeError):
            return DouyinReply(resp.status, None, "not Douyin's envelope", None, raw)
        return DouyinReply(resp.status, code, str(data.get("description", "")), data, raw)

    async def call(self, operation: str, body: Any) -> DouyinReply:
        reply = await self.send(self.build(operation, body))
        at = datetime.fromtimestamp(self.now_ms() / 1000, UTC)
        self.settlement.observe(operation, body, reply.ok, at)
        return reply

    async def call_retrying(self, operation: str, body: Any, attempts: int = 12) -> DouyinReply:
        """Douyin's retry loop: the same body, re-signed with a new timestamp, while an
        attempt gets no answer, not HTTP 200, or ``error_code`` 100."""
        last: DouyinReply | None = None
        for n in range(attempts):
            if n and self.retry_interval:
                await asyncio.sleep(self.retry_interval)
            try:
                last = await self.send(self.build(operation, body))
            except (OSError, TimeoutError, ValueError):
                continue
            if last.status == 200 and last.code not in (None, RETRY_CODE):
                return last
        if last is None:
            raise AssertionError(f"{operation}: no answer in {attempts} attempts")
        return last


# ---------------------------------------------------------------------- OpenAPI


@dataclass
class Certificate:
    code: str
    certificate_id: str
    encrypted_code: str
    verified_by: str | None = None  # the verify_token that verified it
    verify_id: str | None = None


def _answer(data: dict[str, Any], code: int = 0, description: str = "") -> web.Response:
    doc = {
        "data": {**data, "error_code": code, "description": description},
        "extra": {"error_code": code, "description": description, "logid": secrets.token_hex(8)},
    }
    return web.json_response(doc)


@dataclass
class DouyinOpenApi:
    """Douyin's fulfilment OpenAPI for one application (see the module doc)."""

    client_key: str
    client_secret: str
    token_seconds: int = 7200
    strict_codes: bool = True  # False: any code has a certificate (the kit's receiver-less use)
    hang_seconds: float = 2.0  # a "timeout": longer than the caller waits
    slow_seconds: float = 0.2  # a "slow" answer: late, but within the caller's patience
    certificates: dict[str, Certificate] = field(default_factory=dict)
    tokens: dict[str, float] = field(default_factory=dict)  # token -> expiry (monotonic)
    tokens_issued: int = 0
    prepared: dict[str, list[str]] = field(default_factory=dict)  # verify_token -> cert ids
    verify_answers: dict[str, dict[str, Any]] = field(default_factory=dict)
    attempts: Counter[str] = field(default_factory=Counter)
    double_verifies: list[str] = field(default_factory=list)
    part_refunds: dict[str, dict[str, Any]] = field(default_factory=dict)  # out_refund_id
    part_refund_repeats: int = 0  # the same out_refund_id again (answered as the first)
    _faults: dict[str, list[str]] = field(default_factory=dict)
    _server: TestServer | None = None

    # -------------------------------------------------------------- control

    def issue(self, code: str) -> Certificate:
        """Douyin knows this voucher code (imported from the supplier's answer)."""
        cert = self.certificates.get(code)
        if cert is None:
            n = len(self.certificates) + 1
            cert = Certificate(code, f"cert-{n}", "enc-" + secrets.token_hex(8))
            self.certificates[code] = cert
        return cert

    def fail(self, kind: str, *modes: str) -> None:
        """The next requests of `kind` (``token``, ``prepare``, ``verify``, ``cancel``)
        fail in order: ``timeout`` (no answer), ``500``, ``code:<n>`` (a Douyin
        error code), ``slow`` (answers after `hang_seconds` / 2, still correctly),
        ``lost`` (does the work, then never answers)."""
        self._faults.setdefault(kind, []).extend(modes)

    def expire_tokens(self) -> None:
        """Every issued token expires now (Douyin refuses them with 2190008)."""
        for token in self.tokens:
            self.tokens[token] = 0.0

    @property
    def verified(self) -> dict[str, str]:
        """Voucher code -> the verify_token that verified it."""
        return {c.code: c.verified_by for c in self.certificates.values() if c.verified_by}

    # -------------------------------------------------------------- serving

    async def _fault(self, kind: str) -> tuple[str | None, web.Response | None]:
        self.attempts[kind] += 1
        modes = self._faults.get(kind)
        mode = modes.pop(0) if modes else None
        if mode == "timeout":
            await asyncio.sleep(self.hang_seconds)
            return mode, web.Response(status=504)
        if mode == "500":
            return mode, web.Response(status=500, text="internal error")
        if mode and mode.startswith("code:"):
            return mode, _answer({}, int(mode[5:]), "system busy")
        if mode == "slow":
            await asyncio.sleep(self.slow_seconds)
        return mode, None

    def _token_error(self, request: web.Request) -> web.Response | None:
        token = request.headers.get("access-token", "")
        expiry = self.tokens.get(token)
        if expiry is None:
            return _answer({}, 2190002, "access_token invalid")
        if expiry <= time.monotonic():
            return _answer({}, 2190008, "access_token expired")
        return None

    async def _authorized(
        self, kind: str, request: web.Request
    ) -> tuple[str | None, web.Response | None]:
        """The planned fault of a fulfilment call, then its access token: the mode to
        finish with (`_lost`), or the answer that ends the call here."""
        mode, failed = await self._fault(kind)
        return mode, failed if failed is not None else self._token_error(request)

    async def _lost(self, mode: str | None, response: web.Response) -> web.Response:
        if mode == "lost":
            await asyncio.sleep(self.hang_seconds)
            return web.Response(status=504)
        return response

    async def token(self, request: web.Request) -> web.Response:
        mode, failed = await self._fault("token")
        if failed is not None:
            return failed
        try:
            body = json.loads(await request.read())
        except ValueError:
            return _answer({}, 2190001, "body is not JSON")
        if (
            body.get("client_key") != self.client_key
            or body.get("client_secret") != self.client_secret
            or body.get("grant_type") != "client_credential"
        ):
            return _answer({}, 10003, "client_key or client_secret invalid")
        token = "clt." + secrets.token_hex(16)
        self.tokens[token] = time.monotonic() + self.token_seconds
        self.tokens_issued += 1
        return await self._lost(
            mode, _answer({"access_token": token, "expires_in": self.token_seconds})
        )

    async def prepare(self, request: web.Request) -> web.Response:
        mode, refused = await self._authorized("prepare", request)
        if refused is not None:
            return refused
        code = request.query.get("code", "")
        cert = self.certificates.get(code)
        if cert is None and not self.strict_codes and code:
            cert = self.issue(code)
        if cert is None:
            return _answer({}, 1208, "certificate not found")
        verify_token = "vt-" + secrets.token_hex(12)
        self.prepared[verify_token] = [cert.certificate_id]
        data = {
            "verify_token": verify_token,
            "order_id": "",
            "certificates": [
                {"encrypted_code": cert.encrypted_code, "certificate_id": cert.certificate_id}
            ],
        }
        return await self._lost(mode, _answer(data))

    async def verify(self, request: web.Request) -> web.Response:
        mode, refused = await self._authorized("verify", request)
        if refused is not None:
            return refused
        try:
            body = json.loads(await request.read())
            verify_token = str(body["verify_token"])
            encrypted = list(body["encrypted_codes"])
        except (ValueError, KeyError, TypeError):
            return _answer({}, 2100001, "invalid parameters")
        if verify_token in self.verify_answers:  # Douyin's idempotency: the first answer
            return await self._lost(mode, _answer(self.verify_answers[verify_token]))
        if verify_token not in self.prepared:
            return _answer({}, 1209, "verify_token unknown")
        by_enc = {c.encrypted_code: c for c in self.certificates.values()}
        results = []
        for enc in encrypted:
            cert = by_enc.get(enc)
            if cert is None or cert.certificate_id not in self.prepared[verify_token]:
                results.append({"result": 1, "msg": "certificate not prepared"})
            elif cert.verified_by is not None:
                self.double_verifies.append(cert.code)
                results.append({"result": 2, "msg": "certificate already verified"})
            else:
                cert.verified_by = verify_token
                cert.verify_id = "vid-" + secrets.token_hex(6)
                results.append(
                    {
                        "result": 0,
                        "msg": "",
                        "certificate_id": cert.certificate_id,
                        "verify_id": cert.verify_id,
                        "origin_code": cert.code,
                    }
                )
        data = {"verify_results": results}
        self.verify_answers[verify_token] = data
        return await self._lost(mode, _answer(data))

    async def cancel(self, request: web.Request) -> web.Response:
        mode, refused = await self._authorized("cancel", request)
        if refused is not None:
            return refused
        try:
            body = json.loads(await request.read())
        except ValueError:
            return _answer({}, 2100001, "invalid parameters")
        cert = next(
            (
                c
                for c in self.certificates.values()
                if c.verify_id and c.verify_id == body.get("verify_id")
            ),
            None,
        )
        if cert is None:
            return _answer({}, 1210, "verify record not found")
        cert.verified_by = cert.verify_id = None
        return await self._lost(mode, _answer({}))

    async def part_refund(self, request: web.Request) -> web.Response:
        mode, refused = await self._authorized("part_refund", request)
        if refused is not None:
            return refused
        try:
            body = json.loads(await request.read())
            refund_id = str(body["out_refund_id"])
            code = str(body["code"])
            parts = [str(p) for p in body["parts"]]
            int(body["refund_amount"])
        except (ValueError, KeyError, TypeError):
            return _answer({}, 2100001, "invalid parameters")
        if refund_id in self.part_refunds:  # idempotent on out_refund_id
            self.part_refund_repeats += 1
        elif code not in self.certificates and self.strict_codes:
            return _answer({}, 1208, "certificate not found")
        elif not parts:
            return _answer({}, 2100001, "parts missing")
        else:
            self.part_refunds[refund_id] = body
        return await self._lost(mode, _answer({"out_refund_id": refund_id}))

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post(TOKEN_PATH, self.token)
        app.router.add_get(PREPARE_PATH, self.prepare)
        app.router.add_post(VERIFY_PATH, self.verify)
        app.router.add_post(CANCEL_PATH, self.cancel)
        app.router.add_post(PART_REFUND_PATH, self.part_refund)
        return app

    async def start(self) -> str:
        """Listen on 127.0.0.1; returns the base URL (the hub's ``DOUYIN_OPENAPI_URL``)."""
        self._server = TestServer(self.app(), host="127.0.0.1")
        await self._server.start_server()
        return str(self._server.make_url("")).rstrip("/")

    async def close(self) -> None:
        if self._server is not None:
            await self._server.close()

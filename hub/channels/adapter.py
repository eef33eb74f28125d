"""Generic, spec-driven inbound handling: what every OTA call needs before business logic.

A partner's call is parsed, authenticated, decrypted and answered in the partner's own
envelope exactly as its `ChannelSpec` says, so a plugin per OTA only writes what a spec
cannot express (operation-specific bodies and answers). The adapter never raises for bad
input: every refusal is a `Refusal` carrying the partner's code, because partners retry
or escalate on a transport error (HTTP 500) but act correctly on their own codes.

Covered: ``json`` envelopes with the operation in a field or in the URL; every signing
scheme an installed plugin registered (`hub.channels.schemes`) wherever the spec locates
it (document, header or query; `hub.channels.verify`), with an optional request-time
window and a legacy fallback scheme; bodies in any registered codec (Ctrip's
``aes128cbc_letters``, ``base64``, ...) and whole-document encryption switched on by a
request header (Meituan); the ``[mapping]`` table to a canonical `OrderRequest`
(`hub.channels.mapping`).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from hub.channels.codecs import CodecError
from hub.channels.jsondoc import JsonDocError, loads
from hub.channels.loader import PathError, check_schemes, get_path, parse_path
from hub.channels.mapping import to_order_request
from hub.channels.schemes import BodyCodec, Protocols, installed
from hub.channels.spec import ChannelSpec, SignatureSide
from hub.channels.verify import HttpCall, SignatureCheck
from hub.domain import Denial
from hub.ratelimit import TokenBuckets
from hub.sdk.outcome import Outcome
from hub.storage.shared_limits import SHARED_LIMITS, SharedBuckets

__all__ = [
    "Handler",
    "HttpCall",
    "Inbound",
    "Refusal",
    "SecretsMissing",
    "SpecInbound",
    "http_call",
    "to_order_request",
]

log = logging.getLogger(__name__)


async def http_call(request: web.Request, operation: str | None = None) -> HttpCall | None:
    """The request as the adapter reads it; None when the body is over the hub's own
    limit (aiohttp refuses to read it), so the plugin can still answer in its envelope."""
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return None
    return HttpCall.of(
        raw,
        method=request.method,
        path=request.path,
        query=list(request.query.items()),
        headers=list(request.headers.items()),
        operation=operation,
        target=request.raw_path,
    )


class SecretsMissing(ValueError):
    """The channel settings lack a secret the spec names: a deployment error, at start-up."""


@dataclass(frozen=True, slots=True)
class Refusal:
    """A call refused before business logic: the canonical key (``BAD_SIGN``, a
    `DenialCode`, ...) and a human detail for the partner's message."""

    key: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Inbound:
    """A verified, decrypted call: the operation name and the decoded business body."""

    operation: str
    body: Any
    document: dict[str, Any]
    call: HttpCall | None = None
    encrypted: bool = False  # the whole request was encrypted: so is the answer


Handler = Callable[[Inbound], Awaitable[dict[str, Any]]]
"""A plugin's business logic for one operation: a read call to its answer document."""


def _set_path(doc: dict[str, Any], path: str, value: Any) -> None:
    """Write ``value`` at a dotted path of plain keys, creating dicts on the way."""
    parts = parse_path(path)
    cur = doc
    for part in parts[:-1]:
        if not isinstance(part, str):
            raise ValueError(f"response paths cannot index lists: {path}")
        cur = cur.setdefault(part, {})
    last = parts[-1]
    if not isinstance(last, str):
        raise ValueError(f"response paths cannot index lists: {path}")
    if isinstance(cur.get(last), dict) and isinstance(value, dict):
        cur[last] = {**value, **cur[last]}  # the code and message sit beside the body
    else:
        cur[last] = value


class SpecInbound:
    """Parse, verify and answer one partner's calls as its spec describes them."""

    def __init__(
        self,
        spec: ChannelSpec,
        settings: Mapping[str, Any],
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        protocols: Protocols | None = None,
    ) -> None:
        """Secrets are read once from the channel settings by the names the spec gives;
        a missing one fails here (at start-up), not on the partner's first order. So
        does a scheme no installed plugin registered (`hub.channels.SpecError`):
        ``protocols`` are the application's registries (``ctx.protocols``), by default
        every installed plugin's."""
        self.spec = spec
        env = spec.envelope
        protocols = installed() if protocols is None else protocols
        check_schemes(spec, protocols)
        self.body_codec: BodyCodec | None = protocols.codec(env.body_encoding)
        self.whole_codec: BodyCodec | None = protocols.codec(spec.encryption.scheme)

        def secret(name: str | None) -> str:
            if name is None:  # the spec checks a value but names no setting for it
                raise SecretsMissing(f"{spec.channel.name}: spec names no setting to check")
            value = settings.get(name)
            if not isinstance(value, str) or not value:
                raise SecretsMissing(f"{spec.channel.name}: setting {name} is required")
            return value

        def checker(side: SignatureSide) -> SignatureCheck:
            return SignatureCheck(
                side,
                secret=secret(side.secret_setting) if side.scheme != "none" else "",
                client_id=secret(side.client_id_setting) if side.client_id_setting else "",
                clock=clock,
                protocols=protocols,
            )

        self.account_id = secret(env.account_setting) if env.account_path else ""
        self.signature = checker(spec.signing.inbound)
        fallback = spec.signing.inbound_fallback
        self.fallback = checker(fallback) if fallback is not None else None
        enc = spec.encryption
        self.aes_key = secret(enc.key_setting) if enc.scheme != "none" else ""
        needs_iv = any(c is not None and c.needs_iv for c in (self.body_codec, self.whole_codec))
        self.aes_iv = secret(enc.iv_setting) if needs_iv else ""
        self._buckets = TokenBuckets()  # [limits].rate_per_second, per process
        rate, burst = spec.limits.rate_per_second, spec.limits.burst
        # (rate, burst) once, not per call; the burst defaults to one second's calls
        self._rate = None if rate is None else (rate, burst or max(1, math.ceil(rate)))

    # ------------------------------------------------------------------ inbound

    def read(self, call: bytes | HttpCall, *, rate: bool = True) -> Inbound | Refusal:
        """Every check the spec expresses, in the order a partner expects its codes:
        parse, account, signature, the partner's rate, then the body (a body is only
        decrypted once the sender is known to hold the key). A bare ``bytes`` is a POST
        with no headers."""
        if isinstance(call, bytes):
            call = HttpCall.of(call)
        env = self.spec.envelope
        if len(call.raw) > self.spec.limits.max_body_bytes:
            return Refusal("PARSE_ERROR", "body too large")
        raw, encrypted = call.raw, self._whole_body_encrypted(call)
        if encrypted and self.whole_codec is not None:
            try:
                raw = self.whole_codec.decode(
                    raw.decode("ascii").strip(), self.aes_key, self.aes_iv
                )
            except (CodecError, UnicodeDecodeError) as exc:
                return Refusal("PARSE_ERROR", f"cannot decrypt: {exc}")
        try:
            doc = loads(raw, max_depth=self.spec.limits.max_depth) if raw.strip() else {}
        except JsonDocError as exc:
            return Refusal("PARSE_ERROR", str(exc))
        if not isinstance(doc, dict):
            return Refusal("PARSE_ERROR", "not a JSON object")
        try:
            operation = self._operation(call, doc)
            if env.account_path:
                account = get_path(doc, env.account_path)
        except PathError as exc:
            return Refusal("PARSE_ERROR", str(exc))
        if not isinstance(operation, str):
            return Refusal("PARSE_ERROR", "operation is not a string")
        if env.account_path and str(account) != self.account_id:
            return Refusal("BAD_ACCOUNT", "unknown account")
        refusal = self._check_sign(call, doc)
        if refusal is not None:
            return refusal
        # Only signed calls spend the partner's rate: a flood of forgeries is refused
        # at the signature and cannot use up the budget the real partner needs.
        # ``rate=False``: the caller takes the token from the buckets the processes share
        # (`read_shared`), after these checks.
        if rate and self._rate is not None and not self._buckets.allow("", *self._rate):
            return Refusal("RATE_LIMITED", "too many requests; retry later")
        try:
            cipher = get_path(doc, env.body_path) if env.body_path else doc
            body = self._decode(cipher)
        except (PathError, CodecError) as exc:
            return Refusal("PARSE_ERROR", str(exc))
        return Inbound(operation, body, doc, call=call, encrypted=encrypted)

    def _whole_body_encrypted(self, call: HttpCall) -> bool:
        enc = self.spec.encryption
        if enc.trigger_header is None or self.whole_codec is None:
            return False
        return (call.header(enc.trigger_header) or "").strip().lower() == "encrypted"

    def _operation(self, call: HttpCall, doc: dict[str, Any]) -> Any:
        env = self.spec.envelope
        if env.operation_from == "field":
            return get_path(doc, env.operation_path) if env.operation_path else ""
        if call.operation is None:
            return ""
        return self.spec.operation_for_path(call.operation) or call.operation

    def _check_sign(self, call: HttpCall, doc: dict[str, Any]) -> Refusal | None:
        """The primary scheme, or the legacy one when ONLY the legacy signature is sent
        (a wrong primary signature never falls back: that would let a forger choose)."""
        check = self.signature
        fallback = self.fallback
        if fallback and not check.present(call, doc) and fallback.present(call, doc):
            check = fallback
        reason = check.check(call, doc)
        return Refusal("BAD_SIGN", reason) if reason is not None else None

    def _decode(self, cipher: Any) -> Any:
        codec = self.body_codec
        if codec is None:
            return cipher
        if not isinstance(cipher, str):
            raise CodecError("encoded body must be a string")
        plain = codec.decode(cipher, self.aes_key, self.aes_iv)
        try:
            return loads(plain, max_depth=self.spec.limits.max_depth)
        except JsonDocError as exc:
            raise CodecError(f"decoded body: {exc}") from exc

    # ------------------------------------------------------------------ answers

    def encode_body(self, body: Any) -> Any:
        """The response body as the partner expects it (encrypted for Ctrip)."""
        codec = self.body_codec
        if codec is None:
            return body
        plain = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return codec.encode(plain, self.aes_key, self.aes_iv)

    def render(
        self, doc: dict[str, Any], inbound: Inbound | None = None
    ) -> tuple[bytes, dict[str, str]]:
        """The answer's bytes and headers: encrypted whole when the request was."""
        raw = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        headers = {"Content-Type": "application/json; charset=utf-8"}
        enc = self.spec.encryption
        codec = self.whole_codec
        if inbound is not None and inbound.encrypted and enc.trigger_header and codec:
            raw = codec.encode(raw, self.aes_key, self.aes_iv).encode("ascii")
            headers = {"Content-Type": "text/plain; charset=utf-8", enc.trigger_header: "encrypted"}
        return raw, headers

    def answer(
        self, key: str, operation: str | None = None, *, body: Any = None, detail: str = ""
    ) -> dict[str, Any]:
        """The response document for a canonical result key (``OK``, a `DenialCode`, a
        special); the partner's code and message come from the spec's table."""
        resp = self.spec.envelope.response
        entry = self.spec.result_entry(key, operation)
        code, message = entry.code, entry.message
        doc: dict[str, Any] = {}
        _set_path(doc, resp.code_path, code)
        _set_path(doc, resp.message_path, f"{message}: {detail}" if detail else message)
        ok = str(code) == str(resp.success_code)
        if body is not None and resp.body_path and (ok or not resp.body_only_on_success):
            _set_path(doc, resp.body_path, self.encode_body(body))
        return doc

    async def read_shared(
        self, call: HttpCall, limiter: SharedBuckets | None
    ) -> Inbound | Refusal:
        """`read`, with the partner's rate taken from ``limiter`` — buckets held in the
        database, so N hub processes allow the spec's rate, not N times it. Only calls
        that passed every other check (signature included) spend a token; without a
        limiter (a hub without a database, tests) the per-process bucket of `read`."""
        if limiter is None or self._rate is None:
            return self.read(call)
        got = self.read(call, rate=False)
        if isinstance(got, Refusal):
            return got
        if not await limiter.allow(f"inbound:{self.spec.channel.name}", *self._rate):
            return Refusal("RATE_LIMITED", "too many requests; retry later")
        return got

    async def respond(
        self, request: web.Request, operation: str | None, handle: Handler
    ) -> web.Response:
        """One HTTP request to the partner's answer, rendered as the spec says (encrypted
        whole when the request was): a body over the hub's limit, a refused call and a
        failing ``handle`` each get the partner's own code — never an HTTP 500."""
        call = await http_call(request, operation)
        got: Inbound | None = None
        if call is None:
            doc = self.answer("PARSE_ERROR", detail="body too large")
        else:
            read = await self.read_shared(call, request.config_dict.get(SHARED_LIMITS))
            if isinstance(read, Refusal):
                doc = self.refuse(read)
            else:
                got = read
                try:
                    doc = await handle(got)
                except Exception:
                    log.exception("%s %s failed", self.spec.channel.name, got.operation)
                    doc = self.answer("INTERNAL", got.operation)
        raw, headers = self.render(doc, got)
        return web.Response(body=raw, headers=headers)

    async def dispatch(
        self, got: Inbound, handlers: Mapping[str, Handler], *, unknown: str = ""
    ) -> dict[str, Any]:
        """Run the plugin's handler of ``got.operation``; never raises. An operation the
        plugin does not serve is INVALID_REQUEST (``unknown`` words it, default "unsupported
        <operation>"), a body that is not an object a PARSE_ERROR, and a handler that fails
        an INTERNAL answer, logged: the partner retries on its own code, not on a 500."""
        handler = handlers.get(got.operation)
        if handler is None:
            return self.answer("INVALID_REQUEST", detail=unknown or f"unsupported {got.operation}")
        if not isinstance(got.body, dict):
            return self.answer("PARSE_ERROR", got.operation, detail="body is not an object")
        try:
            return await handler(got)
        except Exception:
            log.exception("%s %s failed", self.spec.channel.name, got.operation)
            return self.answer("INTERNAL", got.operation)

    def refuse(self, refusal: Refusal, operation: str | None = None) -> dict[str, Any]:
        return self.answer(refusal.key, operation, detail=refusal.detail)

    def deny(self, denial: Denial, operation: str | None = None) -> dict[str, Any]:
        return self.answer(str(denial.code), operation, detail=denial.reason)

    def outcome(self, outcome: Outcome, operation: str, body: Any = None) -> dict[str, Any]:
        """A hub `Outcome` in the partner's words; a denial's own reason (e.g. "Only 1
        left") follows the partner's message so the real stock reaches the partner."""
        if outcome.ok:
            return self.answer("OK", operation, body=body)
        return self.answer(
            outcome.code or "INTERNAL", operation, detail=str(outcome.body.get("message", ""))
        )

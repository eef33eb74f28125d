"""Generic, spec-driven OUTBOUND calls: what every partner callback needs besides its body.

The inbound side (`hub.channels.adapter`) reads a partner's calls as its `ChannelSpec`
says; this module writes OUR calls to the partner the same way, so a channel plugin's
``deliver`` only builds the business body of a callback and hands it here::

    out = SpecOutbound(spec, ctx.settings, clock=ctx.clock.now)      # once, in setup
    reply = await out.send(ctx.http, "OrderConsumedNotice", body)    # in deliver()

`SpecOutbound.send` builds the request document from the spec — the envelope fields
(operation, account, request time, the ``[outbound].constants``), the body encoded as
``[envelope].body_encoding`` (Ctrip: AES-128-CBC written as letters a–p), the signature
of ``[signing.outbound]`` — posts it with the hub's shared session under the callback's
``timeout_seconds``, waits its turn under the callback's ``rate_per_minute``, and reads
the partner's result code where ``[envelope.response]`` says it is. It then either
returns (the partner took the call) or raises `hub.sdk.DeliveryError`:

* retryable (the outbox tries again on the callback's schedule): a timeout, a network
  error, HTTP 5xx or 429, an answer that is not the partner's envelope (a proxy's error
  page), or a result code listed in ``[outbound].retryable_codes`` ("busy");
* not retryable (dead letter, an operator looks): any other HTTP 4xx, any other partner
  result code (a definitive refusal), or a deployment mistake such as a missing URL.

The outbox worker applies the callback's own `RetryPolicy` (``Callback.retry_policy()``)
when the adapter exposes ``retry_policy_for(kind)`` — see `callback_policies`.

Signing schemes supported outbound: ``md5_concat`` (fields of the document, signature
written at a ``body:`` location), any registered scheme that signs in headers
(`hub.channels.schemes.HeaderSigner`: Meituan's ``hmac_sha1_mws`` writes
``Authorization`` and ``Date``) and ``none``. Other schemes (Douyin's token-based auth)
are refused at construction with a clear error. TOP gateway calls (Fliggy) have another
shape — one URL, form parameters, ``method`` per API — and their own sender with the
same ``send``/``judge`` contract, in the Fliggy plugin (``plugins/channel_fliggy/top.py``).

Rate limits are per process (`RateLimiter`): several hub processes each keep the limit,
so deploy the limit divided by the number of processes when that matters.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp

from hub.channels.codecs import CodecError, md5_concat
from hub.channels.jsondoc import loads
from hub.channels.loader import PathError, check_schemes, get_path, parse_path
from hub.channels.schemes import BodyCodec, HeaderSigner, Protocols, installed
from hub.channels.sender import (
    CallbackSender,
    OutboundConfigError,
    OutboundReply,
    check_status,
)
from hub.channels.spec import ChannelSpec
from hub.contracts import DeliveryError
from hub.outbox.policy import RetryPolicy

OUTBOUND_SIGNING = ("md5_concat", "none")
"""Signing schemes `SpecOutbound` produces itself; a registered `HeaderSigner` adds more."""

__all__ = [
    "OUTBOUND_SIGNING",
    "CallbackSender",
    "OutboundConfigError",
    "OutboundReply",
    "RateLimiter",
    "SpecOutbound",
    "callback_policies",
    "check_status",
]


class RateLimiter:
    """At most ``per_minute`` acquisitions in any sliding 60-second window.

    `acquire` waits (it never refuses) so the caller's own timeout decides how long a call
    may queue; the outbox then retries it later. Time and sleep are injected so tests can
    check the limit without waiting.
    """

    def __init__(
        self,
        per_minute: int,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if per_minute < 1:
            raise ValueError("per_minute must be >= 1")
        self.per_minute = per_minute
        self._monotonic = monotonic
        self._sleep = sleep
        self._sent: deque[float] = deque()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                now = self._monotonic()
                while self._sent and now - self._sent[0] >= 60.0:
                    self._sent.popleft()
                if len(self._sent) < self.per_minute:
                    self._sent.append(now)
                    return
                await self._sleep(60.0 - (now - self._sent[0]))


def _set_path(doc: dict[str, Any], path: str, value: Any) -> None:
    parts = parse_path(path)
    cur = doc
    for part in parts[:-1]:
        if not isinstance(part, str):
            raise OutboundConfigError(f"outbound paths cannot index lists: {path}")
        cur = cur.setdefault(part, {})
    last = parts[-1]
    if not isinstance(last, str):
        raise OutboundConfigError(f"outbound paths cannot index lists: {path}")
    cur[last] = value


def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def callback_policies(spec: ChannelSpec) -> dict[str, RetryPolicy]:
    """kind → the spec's policy for that callback; an adapter returns these from
    ``retry_policy_for(kind)`` so the outbox retries each callback on its own schedule."""
    return {kind: cb.retry_policy() for kind, cb in spec.callbacks.items()}


class SpecOutbound(CallbackSender):
    """Build, sign, send and judge one partner's callbacks as its spec describes them."""

    def __init__(
        self,
        spec: ChannelSpec,
        settings: Mapping[str, Any],
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        limiters: Mapping[str, RateLimiter] | None = None,
        protocols: Protocols | None = None,
    ) -> None:
        """Secrets are read once, by the setting names the spec gives; a missing one is
        an `OutboundConfigError` here, at start-up. URLs are looked up per call (a hub
        may run with inbound configured before the partner gave a callback URL).
        ``protocols``: where scheme names are looked up (default: installed plugins)."""
        super().__init__(spec, settings, clock=clock)
        env, side = spec.envelope, spec.signing.outbound
        protocols = installed() if protocols is None else protocols
        check_schemes(spec, protocols)
        scheme = protocols.signature(side.scheme)
        self.header_signer = scheme if isinstance(scheme, HeaderSigner) else None
        if side.scheme not in OUTBOUND_SIGNING and self.header_signer is None:
            raise OutboundConfigError(
                f"{spec.channel.name}: outbound signing {side.scheme!r} is not supported yet"
            )
        if side.scheme == "md5_concat" and not (side.location or "").startswith("body:"):
            raise OutboundConfigError(f"{spec.channel.name}: md5_concat is signed in the body")
        self.account_id = self._secret(env.account_setting) if env.account_path else ""
        self.sign_secret = self._secret(side.secret_setting) if side.scheme != "none" else ""
        self.client_id = self._secret(side.client_id_setting) if side.client_id_setting else ""
        enc = spec.encryption
        self.body_codec: BodyCodec | None = protocols.codec(env.body_encoding)
        self.whole_codec: BodyCodec | None = protocols.codec(enc.scheme)
        body_codec = self.body_codec
        self.aes_key = self._secret(enc.key_setting) if body_codec and body_codec.needs_key else ""
        self.aes_iv = self._secret(enc.iv_setting) if body_codec and body_codec.needs_iv else ""
        out = spec.outbound
        self.zone = ZoneInfo(out.timezone) if out is not None else UTC
        # Extra headers from settings (Meituan's PartnerId) and whole-body encryption
        # (Meituan's global encryption) when the deployment switches it on.
        self.extra_headers = {
            header: self._secret(name)
            for header, name in (out.header_settings.items() if out is not None else ())
        }
        flag = self.settings.get(out.encrypt_setting) if out and out.encrypt_setting else None
        self.encrypt_whole = (
            str(flag).strip().lower() in ("1", "true", "yes", "on")
            and self.whole_codec is not None
            and enc.trigger_header is not None
        )
        if self.encrypt_whole and not self.aes_key:
            self.aes_key = self._secret(enc.key_setting)
        if self.encrypt_whole and self.whole_codec and self.whole_codec.needs_iv:
            self.aes_iv = self.aes_iv or self._secret(enc.iv_setting)
        self.limiters: dict[str, RateLimiter] = dict(limiters or {})
        for kind, cb in spec.callbacks.items():
            if cb.rate_per_minute and kind not in self.limiters:
                self.limiters[kind] = RateLimiter(cb.rate_per_minute)

    # ------------------------------------------------------------------ building

    def encode_body(self, body: Any) -> Any:
        if self.body_codec is None:
            return body
        return self.body_codec.encode(_dumps(body), self.aes_key, self.aes_iv)

    def document(self, kind: str, body: Any, *, at: datetime | None = None) -> dict[str, Any]:
        """The request document for one callback, signed when the signature lives in it.

        Deterministic for a given body and time (Ctrip's AES uses a fixed IV), so the
        same call sent twice at the same second is byte-identical."""
        cb = self.callback(kind)
        env, out = self.spec.envelope, self.spec.outbound
        at = at or self.clock()
        if env.body_path:
            doc: dict[str, Any] = {}
            _set_path(doc, env.body_path, self.encode_body(body))
        elif isinstance(body, dict):
            doc = dict(body)
        else:
            raise OutboundConfigError("a spec without envelope.body_path needs an object body")
        if env.operation_from == "field" and env.operation_path:
            _set_path(doc, env.operation_path, cb.operation)
        if env.account_path:
            _set_path(doc, env.account_path, self.account_id)
        if out is not None:
            if out.timestamp_path:
                stamp = at.astimezone(self.zone).strftime(out.timestamp_format)
                _set_path(doc, out.timestamp_path, stamp)
            for path, value in out.constants.items():
                _set_path(doc, path, value)
        side = self.spec.signing.outbound
        if side.scheme == "md5_concat":
            try:
                parts = [
                    self.sign_secret if f == "$secret" else get_path(doc, f) for f in side.fields
                ]
            except PathError as exc:
                raise OutboundConfigError(f"signing.outbound: {exc}") from None
            if not all(isinstance(p, str) for p in parts):
                raise OutboundConfigError("signing.outbound: signed fields must be strings")
            assert side.location is not None  # checked in __init__
            _set_path(doc, side.location.removeprefix("body:"), md5_concat(parts, side.case))
        return doc

    def request(
        self, kind: str, body: Any, *, at: datetime | None = None
    ) -> tuple[str, bytes, dict[str, str]]:
        """URL, bytes and headers of one callback (headers carry header signatures)."""
        at = at or self.clock()
        url = self.url(kind)
        raw = _dumps(self.document(kind, body, at=at))
        headers = {"Content-Type": "application/json; charset=utf-8", **self.extra_headers}
        trigger = self.spec.encryption.trigger_header
        if self.encrypt_whole and trigger and self.whole_codec is not None:
            raw = self.whole_codec.encode(raw, self.aes_key, self.aes_iv).encode("ascii")
            headers["Content-Type"] = "text/plain; charset=utf-8"
            headers[trigger] = "encrypted"
        if self.header_signer is not None:
            headers.update(
                self.header_signer.sign_headers(
                    client_id=self.client_id,
                    secret=self.sign_secret,
                    method="POST",
                    url=url,
                    body=raw,
                    at=at,
                )
            )
        return url, raw, headers

    # ------------------------------------------------------------------ sending

    async def send(
        self,
        http: aiohttp.ClientSession,
        kind: str,
        body: Any,
        *,
        at: datetime | None = None,
    ) -> OutboundReply:
        """Post one callback and judge the answer; see the module doc for what raises."""
        url, raw, headers = self.request(kind, body, at=at)
        limiter = self.limiters.get(kind)
        if limiter is not None:
            await limiter.acquire()
        status, answer_headers, data = await self.post(http, kind, url, raw, headers)
        return self.judge(kind, status, self._whole_body_plain(answer_headers, data))

    def _whole_body_plain(self, headers: Mapping[str, str], data: bytes) -> bytes:
        """An answer the partner encrypted whole (its trigger header says so), decrypted;
        an undecryptable one is returned as is and judged "not the envelope" (retry)."""
        trigger = self.spec.encryption.trigger_header
        if not trigger or (headers.get(trigger) or "").strip().lower() != "encrypted":
            return data
        if self.whole_codec is None:
            return data
        key = self.aes_key or str(self.settings.get(self.spec.encryption.key_setting or "", ""))
        try:
            return self.whole_codec.decode(data.decode("ascii").strip(), key, self.aes_iv)
        except (CodecError, UnicodeDecodeError):
            return data

    def judge(self, kind: str, status: int, data: bytes) -> OutboundReply:
        """The partner's answer → a reply, or the `DeliveryError` it amounts to."""
        check_status(kind, status)
        resp = self.spec.envelope.response
        try:
            doc = loads(data)
            code = str(get_path(doc, resp.code_path))
        except (ValueError, UnicodeDecodeError, PathError) as exc:
            # Not the partner's envelope: a gateway page or a half answer; try again.
            raise DeliveryError(f"{kind}: answer is not the partner's envelope") from exc
        try:
            message = str(get_path(doc, resp.message_path))
        except PathError:
            message = ""
        if code != str(resp.success_code):
            out = self.spec.outbound
            retry = out is not None and code in out.retryable_codes
            raise DeliveryError(f"{kind}: partner answered {code} {message}", retryable=retry)
        return OutboundReply(status, code, message, self._decode(doc), data)

    def _decode(self, doc: Any) -> Any:
        path = self.spec.envelope.response.body_path
        if not path:
            return None
        try:
            cipher = get_path(doc, path)
        except PathError:
            return None
        codec = self.body_codec
        if codec is None or not codec.needs_key or not isinstance(cipher, str):
            return cipher
        try:
            return loads(codec.decode(cipher, self.aes_key, self.aes_iv))
        except (CodecError, ValueError):
            return None  # the partner took the call; an unreadable echo changes nothing

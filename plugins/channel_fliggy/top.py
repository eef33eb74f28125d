"""Outbound calls to an Alibaba TOP gateway (Taobao Open Platform; Fliggy's supplier API).

Part of the Fliggy plugin (moved from ``hub/channels/top.py``): TOP is Fliggy's
gateway, so removing the plugin removes it too.

TOP does not fit the JSON-document shape `hub.channels.outbound.SpecOutbound` builds: a
TOP call is ONE gateway URL, the API named by the ``method`` parameter, every parameter
(system and business) posted as ``application/x-www-form-urlencoded`` and signed over
the parameters sorted by name:

* ``sign_method=md5``:  ``upper(md5(secret + k1v1k2v2… + secret))``
* ``sign_method=hmac``: ``upper(HMAC-MD5(secret, k1v1k2v2…))``
* ``sign_method=hmac-sha256``: ``upper(HMAC-SHA256(secret, k1v1k2v2…))``

The spec chooses: ``[signing.outbound] scheme = "top_md5"``, ``"top_hmac_md5"`` or
``"top_hmac_sha256"``
(``secret_setting`` = the app secret, ``client_id_setting`` = the app key). The system
parameters come from the spec too: ``[outbound].constants`` (``format = "json"``,
``v = "2.0"``), ``timestamp_path`` / ``timestamp_format`` / ``timezone`` (TOP wants
``yyyy-MM-dd HH:mm:ss`` in GMT+8) and ``url_setting`` (the gateway URL).

Answers: success is ``{"<api>_response": {...}}`` where ``<api>`` is the method without
``taobao.`` and with ``_`` for ``.``; failure is ``{"error_response": {"code", "msg",
"sub_code", "sub_msg"}}``. ``[outbound].retryable_codes`` lists the failures that mean
"try later" as shell patterns matched against both ``code`` and ``sub_code`` (TOP's
``isp.*`` sub-codes are the platform's own trouble; ``isv.*`` ones are our request's
fault and final). HTTP 5xx/429, timeouts, network errors and answers that are not TOP's
JSON are retried, like `SpecOutbound` does.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import aiohttp

from hub.sdk import DeliveryError
from hub.sdk.channels import (
    CallbackSender,
    ChannelSpec,
    OutboundConfigError,
    OutboundReply,
    check_status,
)
from hub.sdk.channels import load_json_doc as loads
from plugins.channel_fliggy.protocol import TOP_SIGN_METHODS, top_sign

FORM = "application/x-www-form-urlencoded;charset=utf-8"


def response_key(method: str) -> str:
    """``taobao.travel.ticket.order.verify`` → ``travel_ticket_order_verify_response``."""
    return method.removeprefix("taobao.").replace(".", "_") + "_response"


def param_text(value: Any) -> str:
    """A business parameter as TOP carries it: strings as they are, structures as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class TopOutbound(CallbackSender):
    """Sign, post and judge one partner's TOP calls as its spec describes them."""

    def __init__(
        self,
        spec: ChannelSpec,
        settings: Mapping[str, Any],
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """Secrets are read once by the setting names the spec gives; a missing one is an
        `OutboundConfigError` here (start-up). The gateway URL is read per call."""
        super().__init__(spec, settings, clock=clock)
        side = spec.signing.outbound
        if side.scheme not in TOP_SIGN_METHODS:
            raise OutboundConfigError(
                f"{spec.channel.name}: TOP calls need a top_* outbound scheme, not {side.scheme!r}"
            )
        self.sign_method = TOP_SIGN_METHODS[side.scheme]
        self.secret = self._secret(side.secret_setting)
        self.app_key = self._secret(side.client_id_setting)
        out = spec.outbound
        self.zone = ZoneInfo(out.timezone) if out is not None else ZoneInfo("Asia/Shanghai")
        self.timestamp_path = (out.timestamp_path if out else None) or "timestamp"
        self.timestamp_format = out.timestamp_format if out else "%Y-%m-%d %H:%M:%S"
        self.constants = {"format": "json", "v": "2.0", **(out.constants if out else {})}
        self.retryable = list(out.retryable_codes) if out else []

    def params(
        self, kind: str, business: Mapping[str, Any], *, at: datetime | None = None
    ) -> dict[str, str]:
        """Every parameter of one call, signed. Deterministic for a given time."""
        cb = self.callback(kind)
        at = at or self.clock()
        params = {k: param_text(v) for k, v in business.items() if v is not None}
        params.update(self.constants)
        params.update(
            {
                "method": cb.operation,
                "app_key": self.app_key,
                self.timestamp_path: at.astimezone(self.zone).strftime(self.timestamp_format),
                "sign_method": self.sign_method,
            }
        )
        params["sign"] = top_sign(params, self.secret, self.sign_method)
        return params

    async def send(
        self,
        http: aiohttp.ClientSession,
        kind: str,
        business: Mapping[str, Any],
        *,
        at: datetime | None = None,
    ) -> OutboundReply:
        """Post one call and judge the answer (raises `DeliveryError`, see module doc)."""
        raw = urlencode(self.params(kind, business, at=at)).encode("ascii")
        status, _, data = await self.post(http, kind, self.url(kind), raw, {"Content-Type": FORM})
        return self.judge(kind, status, data)

    def judge(self, kind: str, status: int, data: bytes) -> OutboundReply:
        """TOP's answer → a reply, or the `DeliveryError` it amounts to."""
        check_status(kind, status, "gateway")
        try:
            doc = loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise DeliveryError(f"{kind}: answer is not TOP's JSON") from exc
        if not isinstance(doc, dict):
            raise DeliveryError(f"{kind}: answer is not TOP's JSON")
        error = doc.get("error_response")
        if isinstance(error, dict):
            code, sub = str(error.get("code", "")), str(error.get("sub_code") or "")
            message = str(error.get("sub_msg") or error.get("msg") or "")
            retry = any(
                fnmatchcase(code, p) or (sub and fnmatchcase(sub, p)) for p in self.retryable
            )
            detail = f"{code}/{sub}" if sub else code
            raise DeliveryError(f"{kind}: TOP error {detail} {message}".rstrip(), retryable=retry)
        key = response_key(self.callback(kind).operation)
        body = doc.get(key)
        if not isinstance(body, dict):
            raise DeliveryError(f"{kind}: answer has no {key}")
        return OutboundReply(status, "0", "", body, data)

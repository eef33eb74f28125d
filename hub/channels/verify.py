"""Signature checks for every scheme a spec can name, on the whole HTTP call.

Partners sign different parts of a request: Ctrip fields inside the JSON document,
Meituan the method, request target (path and query) and ``Date`` header (MWS), Douyin the
sorted query plus the raw body, Fliggy/TOP the sorted parameters. `HttpCall` carries all
of them so one checker serves every partner: it finds the signature where the spec's
``location`` says and hands it to the scheme the spec names, looked up in the
registry the plugins filled (`hub.channels.schemes`; each partner's scheme lives in its
plugin). A new OTA that uses an installed scheme needs only a spec file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from hub.channels.loader import PathError, get_path
from hub.channels.schemes import Protocols, SignatureScheme, installed
from hub.channels.spec import SignatureSide


@dataclass(frozen=True, slots=True)
class HttpCall:
    """One inbound partner request: the raw body and what surrounds it.

    Header names are kept lower-cased (HTTP headers are case-insensitive); the query keeps
    its order and repeats, because some schemes sign it exactly as sent. ``target`` is the
    request target as it came on the wire — path and query, undecoded — which MWS signs."""

    raw: bytes
    method: str = "POST"
    path: str = ""
    query: tuple[tuple[str, str], ...] = ()
    headers: Mapping[str, str] = field(default_factory=dict)
    operation: str | None = None  # from the URL, when the spec says operation_from = 'url'
    target: str = ""

    @classmethod
    def of(
        cls,
        raw: bytes,
        *,
        method: str = "POST",
        path: str = "",
        query: Iterable[tuple[str, str]] | Mapping[str, str] = (),
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        operation: str | None = None,
        target: str | None = None,
    ) -> HttpCall:
        """``target`` defaults to ``path`` and the query url-encoded (calls built in code)."""
        pairs = tuple(
            (str(k), str(v)) for k, v in (query.items() if isinstance(query, Mapping) else query)
        )
        items = headers.items() if isinstance(headers, Mapping) else (headers or ())
        if target is None:
            target = path + (f"?{urlencode(pairs)}" if pairs else "")
        return cls(
            raw=raw,
            method=method.upper(),
            path=path,
            query=pairs,
            headers={str(k).lower(): str(v) for k, v in items},
            operation=operation,
            target=target,
        )

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def query_value(self, name: str) -> str | None:
        return next((v for k, v in self.query if k == name), None)


def locate(location: str, call: HttpCall, doc: Any) -> Any:
    """The value at ``body:a.b`` / ``header:Name`` / ``query:name``; None when absent."""
    where, _, name = location.partition(":")
    if where == "header":
        return call.header(name)
    if where == "query":
        return call.query_value(name)
    try:
        return get_path(doc, name) if doc is not None else None
    except PathError:
        return None


def parse_timestamp(value: str, fmt: str, zone: str = "UTC") -> datetime:
    """A partner's request time as aware UTC; ValueError when it is not one. A strptime
    format without an offset is read in ``zone`` (TOP sends Beijing time)."""
    if fmt == "rfc1123":
        try:
            parsed = parsedate_to_datetime(value)
        except (TypeError, IndexError) as exc:
            raise ValueError(f"not an RFC 1123 date: {value!r}") from exc
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    if fmt in ("epoch_ms", "epoch_s"):
        number = float(value)
        return datetime.fromtimestamp(number / 1000 if fmt == "epoch_ms" else number, UTC)
    parsed = datetime.strptime(value, fmt)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC if zone == "UTC" else ZoneInfo(zone))
    return parsed.astimezone(UTC)


class SignatureCheck:
    """Verifies one `SignatureSide` of a spec. `check` returns None when the call is
    authentic, else a short reason (never the secret or the expected value)."""

    def __init__(
        self,
        side: SignatureSide,
        *,
        secret: str,
        client_id: str = "",
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        protocols: Protocols | None = None,
    ) -> None:
        """``protocols``: where the scheme's name is looked up (the application's
        registries; default: every installed plugin's). An unknown name is a
        `hub.sdk.registries.RegistryError` here, at start-up."""
        self.side = side
        self.secret = secret
        self.client_id = client_id
        self.clock = clock
        registries = installed() if protocols is None else protocols
        self.scheme: SignatureScheme | None = registries.signature(side.scheme)

    def present(self, call: HttpCall, doc: Any) -> bool:
        """Whether the call carries this scheme's signature at all (for fallbacks)."""
        if self.side.scheme == "none" or self.side.location is None:
            return True
        return locate(self.side.location, call, doc) not in (None, "")

    def check(self, call: HttpCall, doc: Any) -> str | None:
        side = self.side
        if self.scheme is None:
            return None
        stale = self._check_time(call, doc)
        if stale is not None:
            return stale
        given = locate(side.location, call, doc) if side.location else None
        if not isinstance(given, str) or not given:
            return "signature missing"
        try:
            ok = self.scheme.verify(self, given, call, doc)
        except (PathError, TypeError, ValueError) as exc:
            return str(exc)
        return None if ok else "signature does not match"

    def _check_time(self, call: HttpCall, doc: Any) -> str | None:
        side = self.side
        if side.max_skew_seconds is None or side.timestamp is None:
            return None
        raw = locate(side.timestamp, call, doc)
        if raw in (None, ""):
            return "request time missing"
        try:
            at = parse_timestamp(str(raw), side.timestamp_format, side.timestamp_timezone)
        except (ValueError, OverflowError):
            return "request time malformed"
        if abs((self.clock() - at).total_seconds()) > side.max_skew_seconds:
            return "request time outside the allowed window"
        return None

"""A vendor's QR-reader dialect as data: where the scan's fields are, what the answer looks
like, how times are written.

HTTP turnstile readers all do the same thing — send the code, open on a positive answer —
but every vendor names the fields differently. Rather than one class per vendor, a mapping
(a TOML file under ``mappings/``, overridable per device through `DeviceConfig.options`
with the same layout) describes the dialect, so onboarding a new reader family is a data
change. Pure: parsing and formatting only, no I/O beyond reading the shipped files.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from hub.sdk import Medium
from hub.sdk.drivers import merge_options

MAPPINGS_DIR = Path(__file__).with_name("mappings")
SOURCES = ("query", "json", "form")
TIME_KEYWORDS = ("epoch", "epoch_ms", "iso")


class MappingError(ValueError):
    """A mapping (shipped or from a device's options) is incomplete or contradictory."""


def shipped() -> dict[str, dict[str, Any]]:
    """The mappings shipped with the plugin, by name."""
    out: dict[str, dict[str, Any]] = {}
    for path in sorted(MAPPINGS_DIR.glob("*.toml")):
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        out[str(data.get("name", path.stem))] = data
    return out


@dataclass(frozen=True, slots=True)
class TimeFormat:
    layout: str
    offset: timezone

    def parse(self, raw: str) -> datetime:
        """A reader's timestamp as an aware UTC datetime; ValueError when unreadable."""
        raw = raw.strip()
        if not raw or len(raw) > 40:
            raise ValueError("empty or oversized time")
        if self.layout in ("epoch", "epoch_ms"):
            number = float(raw)
            seconds = number / 1000 if self.layout == "epoch_ms" else number
            return datetime.fromtimestamp(seconds, UTC)
        if self.layout == "iso":
            parsed = datetime.fromisoformat(raw)
        else:
            parsed = datetime.strptime(raw, self.layout)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=self.offset)
        return parsed.astimezone(UTC)

    def format(self, at: datetime) -> str | int:
        if self.layout == "epoch":
            return int(at.timestamp())
        if self.layout == "epoch_ms":
            return int(at.timestamp() * 1000)
        local = at.astimezone(self.offset)
        if self.layout == "iso":
            return local.isoformat(timespec="seconds")
        return local.strftime(self.layout)


@dataclass(frozen=True, slots=True)
class Answer:
    status: str
    open: Any
    deny: Any
    text: str = ""
    relay: str = ""
    relay_open: Any = 0
    server_time: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class QRMapping:
    """One reader dialect, validated."""

    name: str
    method: str
    path: str
    source: str
    code: str
    serial: str
    gate: str
    time: str
    kind: str
    kinds: Mapping[str, Medium]
    default_kind: Medium
    time_format: TimeFormat
    answer: Answer
    timeout_ms: int

    @property
    def route(self) -> tuple[str, str]:
        return (self.method, self.path)

    def medium(self, raw_kind: str) -> Medium:
        return self.kinds.get(raw_kind, self.default_kind)

    def render(self, *, allow: bool, text: str, now: datetime) -> dict[str, Any]:
        """The answer document the reader expects (dotted names become nested objects)."""
        a = self.answer
        doc: dict[str, Any] = {}
        for key, value in a.extra.items():
            _put(doc, key, value)
        _put(doc, a.status, a.open if allow else a.deny)
        if a.text:
            _put(doc, a.text, text)
        if a.relay:
            _put(doc, a.relay, a.relay_open if allow else 0)
        if a.server_time:
            _put(doc, a.server_time, self.time_format.format(now))
        return doc


def _put(doc: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    node = doc
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value


def build(options: Mapping[str, Any]) -> QRMapping:
    """The mapping a device uses: the shipped one named by ``options["mapping"]`` (default
    ``cardid``), with every other option key overriding the same key of the file."""
    library = shipped()
    name = str(options.get("mapping", "cardid"))
    if name not in library:
        raise MappingError(f"unknown QR reader mapping {name!r}; shipped: {sorted(library)}")
    overrides = {k: v for k, v in options.items() if k != "mapping"}
    data = merge_options(library[name], overrides)
    try:
        fields = data["fields"]
        answer = data["answer"]
        time = data.get("time", {})
        method = str(data.get("method", "GET")).upper()
        path = str(data["path"])
        source = str(data.get("source", "query"))
        layout = str(time.get("format", "%Y-%m-%d %H:%M:%S"))
        kinds = {str(k): Medium(v) for k, v in data.get("kinds", {}).items()}
        mapping = QRMapping(
            name=name,
            method=method,
            path=path,
            source=source,
            code=str(fields["code"]),
            serial=str(fields["serial"]),
            gate=str(fields.get("gate", "")),
            time=str(fields.get("time", "")),
            kind=str(fields.get("kind", "")),
            kinds=kinds,
            default_kind=Medium(data.get("default_kind", "qr")),
            time_format=TimeFormat(
                layout, timezone(timedelta(hours=float(time.get("utc_offset_hours", 0))))
            ),
            answer=Answer(
                status=str(answer["status"]),
                open=answer["open"],
                deny=answer["deny"],
                text=str(answer.get("text", "")),
                relay=str(answer.get("relay", "")),
                relay_open=answer.get("relay_open", 0),
                server_time=str(answer.get("server_time", "")),
                extra=dict(answer.get("extra", {})),
            ),
            timeout_ms=int(data.get("timeout_ms", 2000)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise MappingError(f"QR reader mapping {name!r} is incomplete: {exc}") from exc
    if method not in ("GET", "POST"):
        raise MappingError(f"method must be GET or POST, not {method!r}")
    if source not in SOURCES:
        raise MappingError(f"source must be one of {SOURCES}, not {source!r}")
    if method == "GET" and source != "query":
        raise MappingError("a GET reader can only send its fields in the query")
    if not path.startswith("/"):
        raise MappingError(f"path must start with '/', not {path!r}")
    if mapping.answer.open == mapping.answer.deny:
        raise MappingError("the open and deny status values must differ")
    if not 200 <= mapping.timeout_ms <= 30_000:
        raise MappingError("timeout_ms must be between 200 and 30000")
    return mapping

"""An MQTT gate vendor's topics and JSON layout, as data (`DeviceConfig.options`).

Vendors agree on the shape — the gate publishes scans and its own decisions on an event
topic, and listens for answers, door commands and list updates on a command topic — and
disagree on every name. The defaults below are one common layout; a device overrides
any key with the same nesting, e.g.
``{"event_topic": "acme/{serial}/up", "fields": {"code": "qrcode"}}``. Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hub.sdk import Direction, Medium
from hub.sdk.drivers import merge_options

MAX_PAYLOAD = 16 * 1024

DEFAULTS: dict[str, Any] = {
    "event_topic": "gates/{serial}/event",
    "command_topic": "gates/{serial}/command",
    "holds_list": False,
    "send_id_numbers": False,  # personal data goes only to gates configured to need it
    "list_batch": 200,  # list entries per list_update message
    "time_format": "epoch_ms",  # epoch | epoch_ms | iso
    "fields": {
        "id": "msgId",  # the gate's own event id: dedupe key and answer reference
        "code": "code",
        "kind": "codeType",
        "time": "ts",
        "direction": "dir",
        "result": "result",  # present (1/0) when the gate decided by itself
        "type": "type",  # "heartbeat" and other non-scan messages
        "sig": "sig",  # HMAC-SHA256 of the message under the gate's secret (`sign`)
    },
    "kinds": {"qr": "qr", "idcard": "id_card", "face": "face", "nfc": "nfc", "card": "card"},
    "directions": {"in": "in", "out": "out"},
    "commands": {
        "field": "cmd",
        "verify": "verify_result",
        "open": "open",
        "list": "list_update",
        "ack": "ack",
    },
    "answer": {
        "id": "msgId",
        "pass": "pass",
        "open": 1,
        "deny": 0,
        "text": "text",
        "relay": "relayMs",
        "relay_open": 3000,
        "server_time": "serverTime",
    },
}


MIN_SECRET = 16


def canonical(topic: str, doc: Mapping[str, Any], sig_field: str) -> bytes:
    """What a signature covers: the topic, a newline, and the message without its
    signature as UTF-8 JSON with sorted keys, no whitespace, non-ASCII unescaped."""
    body = {k: v for k, v in doc.items() if k != sig_field}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return (topic + "\n" + text).encode()


def sign(topic: str, doc: Mapping[str, Any], secret: str, sig_field: str = "sig") -> str:
    """Hex HMAC-SHA256 of `canonical` under the gate's own secret. The topic is covered,
    so a message signed for one gate's topic is worthless on another's."""
    return hmac.new(secret.encode(), canonical(topic, doc, sig_field), hashlib.sha256).hexdigest()


def signed_by(topic: str, doc: Mapping[str, Any], secret: str, sig_field: str = "sig") -> bool:
    given = doc.get(sig_field)
    if not secret or not isinstance(given, str):
        return False
    return hmac.compare_digest(sign(topic, doc, secret, sig_field), given.lower())


def seal(topic: str, payload: bytes, secret: str, sig_field: str = "sig") -> bytes:
    """A command (JSON object) with its signature added, for gates that check them."""
    doc = json.loads(payload)
    doc[sig_field] = sign(topic, doc, secret, sig_field)
    return json.dumps(doc, ensure_ascii=False).encode()


class ProfileError(ValueError):
    """The device's options do not describe a usable layout."""


@dataclass(frozen=True, slots=True)
class Incoming:
    """One message from a gate, read with its profile."""

    event_id: str
    code: str
    medium: Medium
    direction: Direction
    at: datetime | None
    result: bool | None  # None: the gate asks; True/False: it decided by itself
    kind: str  # the vendor's message type ("" for scans)


@dataclass(frozen=True)
class Profile:
    data: Mapping[str, Any]

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Profile:
        data = merge_options(DEFAULTS, options)
        for key in ("event_topic", "command_topic"):
            topic = str(data[key])
            if topic.count("{serial}") != 1 or "+" in topic or "#" in topic:
                raise ProfileError(
                    f"{key} must contain {{serial}} once and no wildcards: {topic!r}"
                )
        if data["time_format"] not in ("epoch", "epoch_ms", "iso"):
            raise ProfileError(
                f"time_format must be epoch, epoch_ms or iso, not {data['time_format']!r}"
            )
        try:
            {str(k): Medium(v) for k, v in data["kinds"].items()}
        except ValueError as exc:
            raise ProfileError(f"kinds: {exc}") from exc
        if data["answer"]["open"] == data["answer"]["deny"]:
            raise ProfileError("answer open and deny values must differ")
        return cls(data)

    # ------------------------------------------------------------------ topics

    def event_topic(self, serial: str) -> str:
        return str(self.data["event_topic"]).replace("{serial}", serial)

    def command_topic(self, serial: str) -> str:
        return str(self.data["command_topic"]).replace("{serial}", serial)

    @property
    def event_filter(self) -> str:
        """The subscription covering every gate of this layout (unknown serials included,
        so they can be logged and refused rather than silently missed)."""
        return str(self.data["event_topic"]).replace("{serial}", "+")

    def serial_of(self, topic: str) -> str | None:
        pattern = str(self.data["event_topic"]).split("/")
        parts = topic.split("/")
        if len(parts) != len(pattern):
            return None
        serial = None
        for want, got in zip(pattern, parts, strict=True):
            if want == "{serial}":
                serial = got
            elif want != got:
                return None
        return serial

    # ------------------------------------------------------------------ reading

    def read(self, payload: bytes) -> tuple[dict[str, Any] | None, str]:
        """The message as a JSON object, or (None, why not)."""
        if len(payload) > MAX_PAYLOAD:
            return None, f"payload of {len(payload)} bytes is too large"
        try:
            doc = json.loads(payload.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return None, "payload is not UTF-8 JSON"
        if not isinstance(doc, dict):
            return None, "payload is not a JSON object"
        return doc, ""

    def incoming(self, doc: Mapping[str, Any]) -> Incoming:
        """ValueError when a scan lacks what it needs (the caller answers a refusal)."""
        f = self.data["fields"]
        kind = str(doc.get(f["type"], "") or "")
        event_id = doc.get(f["id"])
        code = doc.get(f["code"])
        if kind and code is None:  # heartbeat, status: no scan, no id needed
            return Incoming(str(event_id or "")[:64], "", Medium.QR, Direction.IN, None, None, kind)
        if not isinstance(event_id, str | int) or not str(event_id).strip():
            raise ValueError("no event id")
        event_id = str(event_id)[:64]
        if not isinstance(code, str | int) or not str(code).strip() or len(str(code)) > 1024:
            raise ValueError("no usable code")
        kinds = {str(k): Medium(v) for k, v in self.data["kinds"].items()}
        medium = kinds.get(str(doc.get(f["kind"], "")), Medium.QR)
        directions = self.data["directions"]
        direction = (
            Direction.OUT if str(doc.get(f["direction"], "")) == directions["out"] else Direction.IN
        )
        raw_result = doc.get(f["result"])
        result = None if raw_result is None else raw_result in (1, True, "1", "pass", "granted")
        return Incoming(
            event_id, str(code), medium, direction, self._time(doc.get(f["time"])), result, kind
        )

    def _time(self, raw: Any) -> datetime | None:
        if raw is None:
            return None
        try:
            if self.data["time_format"] == "iso":
                at = datetime.fromisoformat(str(raw))
                return at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC)
            number = float(raw)
            if self.data["time_format"] == "epoch_ms":
                number /= 1000
            return datetime.fromtimestamp(number, UTC)
        except (TypeError, ValueError, OverflowError, OSError):
            return None

    def time_value(self, at: datetime) -> Any:
        if self.data["time_format"] == "iso":
            return at.isoformat(timespec="seconds")
        if self.data["time_format"] == "epoch":
            return int(at.timestamp())
        return int(at.timestamp() * 1000)

    # ------------------------------------------------------------------ writing

    def _command(self, name: str) -> dict[str, Any]:
        c = self.data["commands"]
        return {c["field"]: c[name]}

    def verdict(self, event_id: str, *, allow: bool, text: str, now: datetime) -> bytes:
        a = self.data["answer"]
        doc = self._command("verify")
        doc[a["id"]] = event_id
        doc[a["pass"]] = a["open"] if allow else a["deny"]
        doc[a["text"]] = text
        doc[a["relay"]] = a["relay_open"] if allow else 0
        doc[a["server_time"]] = self.time_value(now)
        return json.dumps(doc, ensure_ascii=False).encode()

    def ack(self, event_id: str) -> bytes:
        doc = self._command("ack")
        doc[self.data["answer"]["id"]] = event_id
        return json.dumps(doc).encode()

    def open_door(self, door: int) -> bytes:
        doc = self._command("open")
        doc["door"] = door
        return json.dumps(doc).encode()

    def list_update(self, version: int, upsert: list[dict[str, Any]], delete: list[str]) -> bytes:
        doc = self._command("list")
        doc.update({"version": version, "upsert": upsert, "delete": delete})
        return json.dumps(doc, ensure_ascii=False).encode()

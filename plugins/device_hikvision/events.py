"""Hikvision access-control events (ISAPI) to canonical `DeviceEvent`s and `Scan`s.

A terminal reports the same event three ways — a JSON POST, a multipart POST (JSON part
plus the snapshot JPEG) and, after an outage, a row of an ``AcsEvent`` search — so one
reader turns each ``AccessControllerEvent`` into the canonical form, keyed by the
device's ``serialNo`` (which the host records once, whichever way it came).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hub.sdk import DeviceEvent, Direction, Medium

MAJOR_ACCESS = 5
GRANTED = {0x01: Medium.CARD, 0x4B: Medium.FACE, 0x9C: Medium.QR, 0x400: Medium.CARD}
DENIED = {
    0x06: "no permission",
    0x08: "card expired",
    0x09: "card not found",
    0x4C: "face not matched",
    0x9D: "QR refused",
    0x85: "tailgating",
    0x86: "reverse entry",
    0x87: "forced entry",
    0x88: "climb-over",
}
VERIFY_MEDIUM = {"card": Medium.CARD, "face": Medium.FACE, "qrCode": Medium.QR}


class EventError(ValueError):
    """Not an access event we can record (malformed, or another kind of event)."""


@dataclass(frozen=True, slots=True)
class AccessEvent:
    serial_no: int
    minor: int
    card_no: str
    employee_no: str
    at: datetime | None
    verify_mode: str
    remote_check: bool
    reader: int

    @property
    def granted(self) -> bool:
        return self.minor in GRANTED

    @property
    def medium(self) -> Medium:
        if self.minor in GRANTED:
            return GRANTED[self.minor]
        if self.minor == 0x4C:  # "face not matched" says the medium whatever the verify mode
            return Medium.FACE
        for word, medium in VERIFY_MEDIUM.items():
            if word.lower() in self.verify_mode.lower():
                return medium
        return Medium.CARD

    @property
    def value(self) -> str:
        return self.card_no or self.employee_no

    def as_device_event(self, device_id: str, gate: str) -> DeviceEvent:
        return DeviceEvent(
            device_id=device_id,
            event_key=f"s{self.serial_no}",
            granted=self.granted,
            medium=self.medium,
            value=self.value[:1024],
            gate=gate,
            direction=Direction.OUT if self.reader == 2 else Direction.IN,
            at=self.at,
            reason="" if self.granted else DENIED.get(self.minor, f"minor 0x{self.minor:x}"),
        )


def _time(text: Any) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _int(value: Any, what: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise EventError(f"{what} is not a number: {value!r}") from exc


def _access_event(src: dict[str, Any], *, minor: int, at: Any, remote_check: bool) -> AccessEvent:
    """The fields a pushed event and a search row name alike (ISAPI uses the same keys)."""
    return AccessEvent(
        serial_no=_int(src.get("serialNo"), "serialNo"),
        minor=minor,
        card_no=str(src.get("cardNo") or ""),
        employee_no=str(src.get("employeeNoString") or ""),
        at=_time(at),
        verify_mode=str(src.get("currentVerifyMode") or ""),
        remote_check=remote_check,
        reader=_int(src.get("cardReaderNo", 1), "cardReaderNo"),
    )


def from_notification(doc: Any) -> AccessEvent:
    """A pushed ``{"eventType": "AccessControllerEvent", "AccessControllerEvent": {...}}``:
    the minor type is ``subEventType`` and the time is the envelope's ``dateTime``."""
    if not isinstance(doc, dict) or doc.get("eventType") != "AccessControllerEvent":
        raise EventError("not an AccessControllerEvent")
    body = doc.get("AccessControllerEvent")
    if not isinstance(body, dict):
        raise EventError("AccessControllerEvent missing")
    if _int(body.get("majorEventType", MAJOR_ACCESS), "majorEventType") != MAJOR_ACCESS:
        raise EventError("not an access event")
    return _access_event(
        body,
        minor=_int(body.get("subEventType"), "subEventType"),
        at=doc.get("dateTime"),
        remote_check=bool(body.get("remoteCheck")),
    )


def from_search_row(row: Any) -> AccessEvent:
    """One ``AcsEvent.InfoList`` row of a catch-up search: ``minor`` and ``time`` here,
    and never a remote check (the terminal decided long ago)."""
    if not isinstance(row, dict):
        raise EventError("search row is not an object")
    if _int(row.get("major", MAJOR_ACCESS), "major") != MAJOR_ACCESS:
        raise EventError("not an access event")
    return _access_event(
        row, minor=_int(row.get("minor"), "minor"), at=row.get("time"), remote_check=False
    )

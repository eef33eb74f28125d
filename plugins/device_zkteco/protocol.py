"""The ZKTeco push protocol (ADMS / "iclock") as pure functions: text in, values out.

The device is the HTTP client: it says hello on ``GET /iclock/cdata``, uploads logs on
``POST /iclock/cdata?table=…``, polls ``GET /iclock/getrequest`` for commands and reports
their results on ``POST /iclock/devicecmd``. Everything is tab- or ``&``-separated text
lines, so every parser here tolerates what firmware really sends (``\\r\\n``, blank lines,
unknown keys, GBK names) and reports a malformed line instead of raising past the route.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import parse_qsl

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


class ProtocolError(ValueError):
    """A line the device sent does not parse; the rest of its upload still counts."""


def decode_text(raw: bytes) -> str:
    """Firmware sends UTF-8, older units GBK (Chinese names): accept both."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("gbk", errors="replace")


def lines(text: str) -> list[str]:
    return [line for line in text.replace("\r\n", "\n").split("\n") if line.strip()]


def handshake(serial: str, *, stamp: str, tz_hours: int, delay: int = 10) -> str:
    """The options answer to a device's hello: where to resume uploads (`stamp`), how
    often to poll, and real-time upload on."""
    return "\n".join(
        [
            f"GET OPTION FROM: {serial}",
            f"ATTLOGStamp={stamp}",
            "OPERLOGStamp=9999",
            f"Stamp={stamp}",
            "OpStamp=9999",
            "ErrorDelay=60",
            f"Delay={delay}",
            "TransTimes=00:00;14:05",
            "TransInterval=1",
            "TransFlag=TransData AttLog OpLog EnrollUser ChgUser",
            f"TimeZone={tz_hours}",
            "Realtime=1",
            "Encrypt=0",
        ]
    )


@dataclass(frozen=True, slots=True)
class LogRecord:
    """One access record a device decided by itself."""

    key: str  # the device's index when it sends one, else a digest of the line
    pin: str
    card: str
    at: datetime
    granted: bool
    verify: int
    event: int
    direction: str  # "in" / "out"


def _device_time(text: str, tz: timezone) -> datetime:
    try:
        return datetime.strptime(text.strip(), TIME_FORMAT).replace(tzinfo=tz).astimezone(UTC)
    except ValueError as exc:
        raise ProtocolError(f"bad time {text!r}") from exc


def _digest(serial: str, line: str) -> str:
    return hashlib.sha256(f"{serial}\x1f{line}".encode()).hexdigest()[:32]


GRANTED_EVENTS = frozenset({0, 1, 14, 15, 16, 17, 200})
"""rtlog ``event`` codes that mean the door opened for the person (0 = normal verify)."""


def parse_rtlog(serial: str, line: str, tz: timezone) -> LogRecord:
    """``time=…\\tpin=…\\tcardno=…\\tevent=…\\tinoutstatus=…\\tverifytype=…[\\tindex=…]``."""
    fields: dict[str, str] = {}
    for part in line.split("\t"):
        key, sep, value = part.partition("=")
        if sep:
            fields[key.strip().lower()] = value.strip()
    if "time" not in fields:
        raise ProtocolError("rtlog line without time")
    try:
        event = int(fields.get("event", "0") or 0)
        verify = int(fields.get("verifytype", "0") or 0)
        inout = int(fields.get("inoutstatus", "0") or 0)
    except ValueError as exc:
        raise ProtocolError(f"non-numeric field in {line!r}") from exc
    index = fields.get("index", "")
    return LogRecord(
        key=f"i{index}" if index.isdigit() else _digest(serial, line),
        pin=fields.get("pin", ""),
        card=fields.get("cardno", ""),
        at=_device_time(fields["time"], tz),
        granted=event in GRANTED_EVENTS,
        verify=verify,
        event=event,
        direction="out" if inout == 1 else "in",
    )


def parse_attlog(serial: str, line: str, tz: timezone) -> LogRecord:
    """``PIN\\tYYYY-MM-DD HH:MM:SS\\tstatus\\tverify…``: an attendance terminal admits
    whoever it logs, so every line is a granted entry."""
    parts = line.split("\t")
    if len(parts) < 2 or not parts[0].strip():
        raise ProtocolError("ATTLOG line needs PIN and time")
    try:
        status = int(parts[2]) if len(parts) > 2 and parts[2].strip() else 0
        verify = int(parts[3]) if len(parts) > 3 and parts[3].strip() else 0
    except ValueError as exc:
        raise ProtocolError(f"non-numeric field in {line!r}") from exc
    return LogRecord(
        key=_digest(serial, line),
        pin=parts[0].strip(),
        card="",
        at=_device_time(parts[1], tz),
        granted=True,
        verify=verify,
        event=0,
        direction="out" if status == 1 else "in",
    )


def parse_results(text: str) -> list[tuple[str, int]]:
    """``ID=<id>&Return=<code>&CMD=<name>`` lines → ``[(id, return code)]``."""
    out: list[tuple[str, int]] = []
    for line in lines(text):
        fields = dict(parse_qsl(line, keep_blank_values=True))
        cid = fields.get("ID", "")
        try:
            code = int(fields.get("Return", ""))
        except ValueError:
            continue
        if cid:
            out.append((cid, code))
    return out


def _clean(value: str) -> str:
    """Tabs and newlines would split a command: never let a name carry them."""
    return value.replace("\t", " ").replace("\r", " ").replace("\n", " ")


def user_update(
    pin: str, *, name: str, card: str, start: datetime, end: datetime, tz: timezone
) -> str:
    """A person with a card and a validity window (local device time)."""
    fields: Mapping[str, str] = {
        "PIN": pin,
        "Name": _clean(name),
        "Card": card,
        "Pri": "0",
        "StartTime": start.astimezone(tz).strftime(TIME_FORMAT),
        "EndTime": end.astimezone(tz).strftime(TIME_FORMAT),
    }
    return "DATA UPDATE USERINFO " + "\t".join(f"{k}={v}" for k, v in fields.items())


def user_delete(pin: str) -> str:
    return f"DATA DELETE USERINFO PIN={pin}"


def open_door(door: int, seconds: int = 5) -> str:
    """``CONTROL DEVICE 0101 01 05``: output type 01, door `door`, 05 seconds."""
    return f"CONTROL DEVICE 01{door:02d}01{seconds:02d}"


def commands_text(commands: Iterable[tuple[str, str]]) -> str:
    return "\n".join(f"C:{cid}:{cmd}" for cid, cmd in commands)


def zone(hours: float) -> timezone:
    return timezone(timedelta(hours=hours))

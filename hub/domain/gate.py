"""The gate's canonical language: what a device saw, what the bridge decided, and what a
device that keeps its own list needs to know about a ticket.

Every vendor protocol is translated to these at the edge (in its driver plugin) and
nowhere else, so the decision engine, the local log and the sync to the hub never see a
vendor's packet or JSON. Pure data: no I/O.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class Medium(StrEnum):
    """How the visitor presented the ticket."""

    QR = "qr"  # a signed TH1. credential (or a legacy code the bridge can look up)
    ID_CARD = "id_card"  # the number read from a real-name ID card
    FACE = "face"  # the device matched a face it holds: value is the person id it reports
    NFC = "nfc"  # a card UID
    CARD = "card"  # a numeric card number (Wiegand / access controller list)


class Direction(StrEnum):
    IN = "in"
    OUT = "out"


class Scan(BaseModel):
    """One presentation at one gate, as the driver decoded it.

    `at` is the DEVICE's clock (it may be hours off); the bridge decides on its own clock
    and keeps both, so skew is visible instead of silently trusted."""

    model_config = ConfigDict(frozen=True)

    device_id: str = Field(min_length=1, max_length=64)
    gate: str = Field(default="", max_length=64)
    medium: Medium
    value: str = Field(min_length=1, max_length=1024)
    direction: Direction = Direction.IN
    at: AwareDatetime | None = None


class GateDecision(BaseModel):
    """The bridge's answer to a scan. `id` is chosen by the bridge and is the redemption id
    the hub records once, however often the upload is retried."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(min_length=1, max_length=64)
    allow: bool
    code: str = ""  # a DenialCode value when refused, "" when allowed
    reason: str = ""  # short, safe to show on a gate display (no personal data)
    ticket_id: str | None = None
    entries_left: int | None = None
    offline: bool = False  # decided without the hub reachable
    decided_at: datetime


class GateCredential(BaseModel):
    """What a device that decides by itself (access controller, face terminal) holds for
    one ticket. Personal fields are only filled for devices that need them."""

    model_config = ConfigDict(frozen=True)

    ticket_id: str
    valid_from: AwareDatetime
    valid_until: AwareDatetime
    entries_allowed: int = 1
    card_no: int | None = Field(default=None, ge=0, le=0xFFFFFFFF)  # 32-bit controllers
    qr: str | None = None
    id_number: str | None = None
    name: str | None = None
    face_jpeg: bytes | None = Field(default=None, repr=False)  # personal data: never in a repr
    revoked: bool = False


class DeviceEvent(BaseModel):
    """A decision a device took by itself (from its own list) and reported afterwards,
    live or on catch-up. `event_key` is the device's own sequence (UHPPOTE event index,
    Hikvision serialNo, ZKTeco log stamp): the bridge records each key once."""

    model_config = ConfigDict(frozen=True)

    device_id: str = Field(min_length=1, max_length=64)
    event_key: str = Field(min_length=1, max_length=64)
    granted: bool
    medium: Medium
    value: str = Field(default="", max_length=1024)
    gate: str = Field(default="", max_length=64)
    direction: Direction = Direction.IN
    at: AwareDatetime | None = None
    reason: str = ""

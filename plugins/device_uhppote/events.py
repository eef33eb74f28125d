"""UHPPOTE events in the gate's language, and the UDP socket they arrive on.

A controller reports the same event two ways — pushed live to the listener (the status
layout, decoded by `uhppoted.decode.event`) and read back by index on catch-up
(`get_event`) — so both are reduced to one `Record` here and translated once. Only card
swipes are entries; door, button and alarm events move the cursor and nothing else.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, cast

from hub.sdk import DeviceConfig, DeviceEvent, Direction, Medium

log = logging.getLogger(__name__)

KIND_CARD = 1
KIND_NOT_FOUND = 0x00
KIND_OVERWRITTEN = 0xFF
DIRECTION_OUT = 2

# The controller's reason codes (uhppoted's table), as words a gate display can show.
REASONS: dict[int, str] = {
    1: "swipe",
    5: "denied: PC control",
    6: "denied: no privilege",
    7: "denied: wrong PIN",
    8: "denied: anti-passback",
    9: "denied: more cards",
    10: "denied: first card open",
    11: "denied: door normally closed",
    12: "denied: interlock",
    13: "denied: limited times",
    15: "denied: outside the ticket's hours",  # the card's time profile
    18: "denied",
    44: "remote open",
}


@dataclass(frozen=True, slots=True)
class Record:
    """One stored event, however it reached us."""

    controller: int
    index: int
    kind: int
    granted: bool
    door: int
    direction: int
    card: int
    at: datetime | None  # controller-local, naive
    reason: int

    @classmethod
    def from_push(cls, ev: Any) -> Record:
        return cls(
            ev.controller,
            ev.event_index,
            ev.event_type,
            ev.event_access_granted,
            ev.event_door,
            ev.event_direction,
            ev.event_card,
            ev.event_timestamp,
            ev.event_reason,
        )

    @classmethod
    def from_get(cls, ev: Any) -> Record:
        return cls(
            ev.controller,
            ev.index,
            ev.event_type,
            ev.access_granted,
            ev.door,
            ev.direction,
            ev.card,
            ev.timestamp,
            ev.reason,
        )


def zone(device: DeviceConfig) -> timezone:
    """Controllers keep local time without a zone; the device's ``tz_hours`` says which."""
    return timezone(timedelta(hours=float(device.options.get("tz_hours", 8))))


def device_time(record: Record, device: DeviceConfig) -> datetime | None:
    if record.at is None:
        return None
    return record.at.replace(tzinfo=zone(device)).astimezone(UTC)


def gate_of(device: DeviceConfig, door: int) -> str:
    """``options.gates`` names each door (``{"1": "north-in"}``); else the device's gate."""
    gates = device.options.get("gates") or {}
    named = gates.get(str(door)) if isinstance(gates, dict) else None
    return str(named or device.gate or f"door{door}")[:64]


def to_device_event(record: Record, device: DeviceConfig) -> DeviceEvent | None:
    """A card swipe as the controller decided it; None for anything that is not an entry."""
    if record.kind != KIND_CARD or record.card == 0:
        return None
    return DeviceEvent(
        device_id=device.id,
        event_key=str(record.index),
        granted=record.granted,
        medium=Medium.CARD,
        value=str(record.card),
        gate=gate_of(device, record.door),
        direction=Direction.OUT if record.direction == DIRECTION_OUT else Direction.IN,
        at=device_time(record, device),
        reason=REASONS.get(record.reason, f"reason {record.reason}"),
    )


class EventSocket(asyncio.DatagramProtocol):
    """The bridge's UDP listener: every datagram goes to `on_packet`, which must not raise
    (a bad packet is logged and dropped there); this class only guards the socket."""

    def __init__(self, on_packet: Callable[[bytes, tuple[str, int]], None]) -> None:
        self.on_packet = on_packet
        self.transport: asyncio.DatagramTransport | None = None
        self.closed: asyncio.Future[None] | None = None  # done once the port is released

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)
        self.closed = asyncio.get_running_loop().create_future()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.closed is not None and not self.closed.done():
            self.closed.set_result(None)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            self.on_packet(data, addr)
        except Exception:  # the listener outlives any packet
            log.exception("uhppote: event packet from %s could not be handled", addr[0])

    def error_received(self, exc: Exception) -> None:
        log.warning("uhppote: listener socket error: %s", exc)

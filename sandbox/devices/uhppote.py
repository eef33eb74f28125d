"""A simulated UHPPOTE / WG access controller on UDP, speaking the real 64-byte packets.

Requests are decoded from the vendor layout (byte 0 = 0x17, byte 1 = function, bytes 4–7
serial little-endian, data from byte 8, BCD dates, the magic word 0x55aaaa55 on
destructive commands); answers are packed with the `uhppoted` library's own field
encoders, so the library's client — and the real ``uhppote-cli`` — talk to it as to a
controller. It answers requests for its serial (and serial 0, as in discovery), ignores
anything malformed, keeps its own card list and decides swipes from it with nobody
listening, stores every event under an increasing index, pushes each event to the
configured listener, and can go offline (answers and pushes nothing) to come back with a
backlog only catch-up by index can recover — exactly like the hardware.

Its clock is local time (controllers have no time zone) and can be set hours off.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from ipaddress import IPv4Address
from typing import cast

from uhppoted import decode, encode

log = logging.getLogger(__name__)

SOM = 0x17
MAGIC = 0x55AAAA55
GET_STATUS = 0x20
SET_TIME = 0x30
GET_TIME = 0x32
OPEN_DOOR = 0x40
PUT_CARD = 0x50
DELETE_CARD = 0x52
DELETE_ALL_CARDS = 0x54
GET_CARDS = 0x58
GET_CARD = 0x5A
SET_LISTENER = 0x90
GET_LISTENER = 0x92
GET_CONTROLLER = 0x94
GET_EVENT = 0xB0
SET_EVENT_INDEX = 0xB2
GET_EVENT_INDEX = 0xB4
SET_TIME_PROFILE = 0x88
GET_TIME_PROFILE = 0x98

EVENT_CARD = 1
EVENT_DOOR = 2
IN, OUT = 1, 2
REASON_SWIPE = 1
REASON_NO_PRIVILEGE = 6
REASON_INVALID_TIME = 15
REASON_REMOTE_OPEN = 44


@dataclass
class Card:
    number: int
    start: date
    end: date
    doors: tuple[int, int, int, int]
    pin: int = 0


@dataclass(frozen=True)
class TimeProfile:
    """When a card whose door permission is this profile's id (2–254) opens: between two
    dates, on some weekdays, inside one of up to three HH:MM segments."""

    id: int
    start: date
    end: date
    weekdays: tuple[bool, ...]  # Monday first
    segments: tuple[tuple[time, time], ...]
    raw: bytes  # the request's bytes 8–36, which is also the get-time-profile layout

    def allows(self, at: datetime) -> bool:
        return (
            self.start <= at.date() <= self.end
            and self.weekdays[at.weekday()]
            and any(a <= at.time().replace(second=0) <= b for a, b in self.segments)
        )


@dataclass(frozen=True)
class Event:
    index: int
    kind: int
    granted: bool
    door: int
    direction: int
    card: int
    at: datetime  # controller-local, naive
    reason: int


@dataclass
class SimulatedController(asyncio.DatagramProtocol):
    serial: int
    tz_hours: float = 8.0
    clock_offset: timedelta = timedelta(0)  # how far the controller's clock is off
    online: bool = True
    cards: dict[int, Card] = field(default_factory=dict)
    profiles: dict[int, TimeProfile] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    overwritten_below: int = 1  # events with a smaller index were overwritten (ring buffer)
    downloaded_index: int = 0  # the "event index" register applications manage
    listener: tuple[str, int] | None = None
    door_opens: Counter[int] = field(default_factory=Counter)
    requests: Counter[int] = field(default_factory=Counter)
    malformed: int = 0
    pushed: int = 0
    address: tuple[str, int] = ("127.0.0.1", 0)
    _transport: asyncio.DatagramTransport | None = None

    # ------------------------------------------------------------------ lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Bind the controller's UDP port; returns ``host:port`` (what staff would enter)."""
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(lambda: self, local_addr=(host, port))
        self._transport = transport
        self.address = transport.get_extra_info("sockname")[:2]
        return f"{self.address[0]}:{self.address[1]}"

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.DatagramTransport, transport)

    # ------------------------------------------------------------------ the controller's world

    def local_now(self) -> datetime:
        zone = timezone(timedelta(hours=self.tz_hours))
        return (
            (datetime.now(UTC) + self.clock_offset)
            .astimezone(zone)
            .replace(tzinfo=None, microsecond=0)
        )

    def swipe(self, card: int, door: int = 1, direction: int = IN) -> bool:
        """A card (a ticket's number) presented at a reader: decided from the controller's
        own list and date window, recorded, pushed if a listener is set and we are online."""
        now = self.local_now()
        held = self.cards.get(card)
        permission = held.doors[door - 1] if held is not None else 0
        granted = bool(held is not None and held.start <= now.date() <= held.end and permission)
        reason = REASON_SWIPE if granted else REASON_NO_PRIVILEGE
        if granted and permission >= 2:
            profile = self.profiles.get(permission)
            if profile is None or not profile.allows(now):
                granted, reason = False, REASON_INVALID_TIME
        self._record(EVENT_CARD, granted, door, direction, card, reason)
        return granted

    def _record(
        self, kind: int, granted: bool, door: int, direction: int, card: int, reason: int
    ) -> Event:
        event = Event(
            len(self.events) + 1, kind, granted, door, direction, card, self.local_now(), reason
        )
        self.events.append(event)
        if self.online and self.listener is not None and self._transport is not None:
            self._transport.sendto(self._status_packet(GET_STATUS, event), self.listener)
            self.pushed += 1
        return event

    def forget_oldest(self, count: int) -> None:
        """The ring buffer went round: the oldest `count` events are gone."""
        self.overwritten_below += count

    # ------------------------------------------------------------------ the wire

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if not self.online:
            return
        if len(data) != 64 or data[0] != SOM:
            self.malformed += 1
            log.info(
                "uhppote sim %d: ignored a malformed packet (%d bytes)", self.serial, len(data)
            )
            return
        serial = decode.unpack_uint32(data, 4)
        if serial not in (0, self.serial):
            return  # someone else's controller
        function = data[1]
        if serial == 0 and function != GET_CONTROLLER:
            return
        self.requests[function] += 1
        reply = self._answer(function, bytes(data))
        if reply is not None and self._transport is not None:
            self._transport.sendto(bytes(reply), addr)

    def _packet(self, function: int) -> bytearray:
        packet = bytearray(64)
        packet[0] = SOM
        packet[1] = function
        encode.pack_uint32(self.serial, packet, 4)
        return packet

    def _ok(self, function: int, ok: bool) -> bytearray:
        packet = self._packet(function)
        encode.pack_bool(ok, packet, 8)
        return packet

    def _answer(self, function: int, req: bytes) -> bytearray | None:
        if function == GET_CONTROLLER:
            packet = self._packet(function)
            encode.pack_IPv4(IPv4Address(self.address[0]), packet, 8)
            encode.pack_IPv4(IPv4Address("255.255.255.0"), packet, 12)
            encode.pack_IPv4(IPv4Address("0.0.0.0"), packet, 16)
            packet[20:26] = bytes.fromhex("00124911" + f"{self.serial & 0xFFFF:04x}")
            packet[26:28] = bytes.fromhex("0662")
            encode.pack_date(date(2020, 1, 1), packet, 28)
            return packet
        if function in (GET_TIME, SET_TIME):
            if function == SET_TIME:
                wanted = decode.unpack_datetime(req, 8)
                if wanted is None:
                    self.malformed += 1
                    return None
                zone = timezone(timedelta(hours=self.tz_hours))
                self.clock_offset = wanted.replace(tzinfo=zone) - datetime.now(UTC)
            packet = self._packet(function)
            encode.pack_datetime(self.local_now(), packet, 8)
            return packet
        if function == GET_STATUS:
            last = self.events[-1] if self.events else None
            return self._status_packet(function, last)
        if function == OPEN_DOOR:
            door = req[8]
            if not 1 <= door <= 4:
                return self._ok(function, False)
            self.door_opens[door] += 1
            self._record(EVENT_DOOR, True, door, IN, 0, REASON_REMOTE_OPEN)
            return self._ok(function, True)
        if function == PUT_CARD:
            start = decode.unpack_optional_date(req, 12)
            end = decode.unpack_optional_date(req, 16)
            number = decode.unpack_uint32(req, 8)
            if start is None or end is None or number == 0:
                return self._ok(function, False)
            doors = (req[20], req[21], req[22], req[23])
            self.cards[number] = Card(number, start, end, doors, decode.unpack_pin(req, 24))
            return self._ok(function, True)
        if function == DELETE_CARD:
            return self._ok(
                function, self.cards.pop(decode.unpack_uint32(req, 8), None) is not None
            )
        if function == DELETE_ALL_CARDS:
            if decode.unpack_uint32(req, 8) != MAGIC:
                return self._ok(function, False)
            self.cards.clear()
            return self._ok(function, True)
        if function == SET_TIME_PROFILE:
            return self._ok(function, self._set_profile(req))
        if function == GET_TIME_PROFILE:
            packet = self._packet(function)
            profile = self.profiles.get(req[8])
            if profile is not None:
                packet[8:37] = profile.raw
            return packet
        if function == GET_CARDS:
            packet = self._packet(function)
            encode.pack_uint32(len(self.cards), packet, 8)
            return packet
        if function == GET_CARD:
            packet = self._packet(function)
            card = self.cards.get(decode.unpack_uint32(req, 8))
            if card is not None:
                encode.pack_uint32(card.number, packet, 8)
                encode.pack_date(card.start, packet, 12)
                encode.pack_date(card.end, packet, 16)
                packet[20:24] = bytes(card.doors)
                encode.pack_pin(card.pin, packet, 24)
            return packet
        if function == SET_LISTENER:
            ip = decode.unpack_ipv4(req, 8)
            port = decode.unpack_uint16(req, 12)
            self.listener = (str(ip), port) if port else None
            return self._ok(function, True)
        if function == GET_LISTENER:
            packet = self._packet(function)
            ip, port = self.listener or ("0.0.0.0", 0)
            encode.pack_IPv4(IPv4Address(ip), packet, 8)
            encode.pack_uint16(port, packet, 12)
            return packet
        if function == GET_EVENT:
            return self._event_packet(decode.unpack_uint32(req, 8))
        if function == SET_EVENT_INDEX:
            if decode.unpack_uint32(req, 12) != MAGIC:
                return self._ok(function, False)
            self.downloaded_index = decode.unpack_uint32(req, 8)
            return self._ok(function, True)
        if function == GET_EVENT_INDEX:
            packet = self._packet(function)
            encode.pack_uint32(self.downloaded_index, packet, 8)
            return packet
        log.info("uhppote sim %d: function 0x%02x not simulated", self.serial, function)
        return None

    def _set_profile(self, req: bytes) -> bool:
        profile_id = req[8]
        start = decode.unpack_optional_date(req, 9)
        end = decode.unpack_optional_date(req, 13)
        if not 2 <= profile_id <= 254 or start is None or end is None:
            return False
        segments = []
        for offset in (24, 28, 32):
            a, b = decode.unpack_hhmm(req, offset), decode.unpack_hhmm(req, offset + 2)
            if a is None or b is None:
                return False
            if (a, b) != (time(0, 0), time(0, 0)):
                segments.append((a, b))
        self.profiles[profile_id] = TimeProfile(
            profile_id,
            start,
            end,
            tuple(req[17 + i] != 0 for i in range(7)),
            tuple(segments),
            bytes(req[8:37]),
        )
        return True

    def _put_event(self, packet: bytearray, event: Event) -> None:
        encode.pack_uint32(event.index, packet, 8)
        packet[12] = event.kind
        encode.pack_bool(event.granted, packet, 13)
        packet[14] = event.door
        packet[15] = event.direction
        encode.pack_uint32(event.card, packet, 16)
        encode.pack_datetime(event.at, packet, 20)
        packet[27] = event.reason

    def _event_packet(self, index: int) -> bytearray:
        packet = self._packet(GET_EVENT)
        encode.pack_uint32(index, packet, 8)
        if index < self.overwritten_below:
            packet[12] = 0xFF  # overwritten
        elif index > len(self.events) or index == 0:
            packet[12] = 0x00  # not found
        else:
            self._put_event(packet, self.events[index - 1])
        return packet

    def _status_packet(self, function: int, event: Event | None) -> bytearray:
        """The status layout, which is also what a pushed event looks like."""
        packet = self._packet(function)
        if event is not None:
            self._put_event(packet, event)
        now = self.local_now()
        packet[37:40] = bytes.fromhex(f"{now:%H%M%S}")
        packet[51:54] = bytes.fromhex(f"{now:%y%m%d}")
        encode.pack_uint32(self.pushed, packet, 40)
        return packet

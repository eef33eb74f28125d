"""UHPPOTE / WG access controllers over UDP, through the `uhppoted` library.

Controllers decide by themselves from the cards we put on them, so the bridge's job is
to keep their lists right and to learn every decision they took:

- Tickets become cards (32-bit `GateCredential.card_no`) valid from/to local dates on
  the doors ``options.doors`` lists (default all four), a single-day ticket's hours
  enforced by a time profile (`profiles`; ``options.time_profiles=false`` turns that
  off); revoked or expired tickets are deleted. A controller cannot count entries, so a card
  whose ticket allows N entries is deleted by us after its N-th granted swipe — while the
  bridge is unreachable it can let the card in again that day; the bridge's log shows it.
- Events are pushed to our UDP listener and recorded with `host.device_event`, keyed by
  the controller's event index (replays are recorded once). UDP carries no
  authentication and its source address is easily forged, so a pushed event is only
  taken from the onboarded controller's serial AND address (the IP of ``address``, or
  the IP the controller reports at attach when it was onboarded by broadcast), and only
  once the controller's own log confirms it: the driver reads that index back
  (``get-event``) and records the event only when the controller holds the same swipe;
  anything else is dropped and counted (``forged``). A read-back that fails leaves the
  event to the catch-up, which reads the log itself. The bridge then takes a "granted"
  swipe only for a card it pushed to this controller. After any gap — a missed
  push, a controller or bridge that was offline — `catch_up` reads the events after our
  cursor by index and only then moves the controller's "downloaded event index"
  register, so the cursor survives a bridge restart and nothing is acknowledged before
  the host has it. A poll (``poll_seconds``) runs catch-up for every controller, which
  is how a controller that came back after an outage is noticed and re-configured.
- Clocks: `attach` sets the controller's time; a pushed event hours off triggers a
  re-sync (at most every ten minutes) and a log line.

Addresses come from the constructor or the environment (``TICKETHUB_UHPPOTE_BIND``,
``_BROADCAST``, ``_LISTEN``, ``_ADVERTISE``, ``_TIMEOUT``, ``_POLL``; README,
"Configuration"): on loopback tests use ``bind="127.0.0.1"``,
``broadcast="127.0.0.1:<port>"``, ``listen="127.0.0.1:0"``. The event listener
(``_LISTEN``, default ``0.0.0.0:60001``, the port controllers are usually set to) is bound
only while at least one UHPPOTE controller is onboarded: a bridge serving other vendors
opens no UDP port for this driver.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from ipaddress import IPv4Address
from time import monotonic
from typing import Any

from uhppoted import decode, uhppote_async

from hub.sdk import (
    DeviceConfig,
    DeviceError,
    DeviceHost,
    DeviceInfo,
    DiscoveredDevice,
    GateCredential,
)
from hub.sdk.drivers import Background
from plugins.device_uhppote.calls import ControllerCalls, ip_of
from plugins.device_uhppote.events import (
    KIND_CARD,
    KIND_NOT_FOUND,
    KIND_OVERWRITTEN,
    EventSocket,
    Record,
    device_time,
    to_device_event,
    zone,
)
from plugins.device_uhppote.profiles import ALL_DAY, ensure_profile, window
from plugins.device_uhppote.state import ControllerState

log = logging.getLogger(__name__)

VENDOR = "uhppote"
SKEW_RESYNC = timedelta(minutes=5)
RESYNC_EVERY = 600.0
MAX_CATCH_UP = 10_000  # events read in one catch-up; the next poll continues


def _env(name: str, default: str) -> str:
    return os.environ.get(f"TICKETHUB_UHPPOTE_{name}", default)


class UhppoteDriver:
    vendor = VENDOR

    def __init__(
        self,
        *,
        bind: str | None = None,
        broadcast: str | None = None,
        listen: str | None = None,
        advertise: str | None = None,
        timeout: float | None = None,
        poll_seconds: float | None = None,
    ) -> None:
        self.bind = bind or _env("BIND", "0.0.0.0")
        self.broadcast = broadcast or _env("BROADCAST", "255.255.255.255:60000")
        self.listen = listen or _env("LISTEN", "0.0.0.0:60001")
        self.advertise = advertise or _env("ADVERTISE", "")
        self.timeout = timeout if timeout is not None else float(_env("TIMEOUT", "2.5"))
        self.poll_seconds = poll_seconds if poll_seconds is not None else float(_env("POLL", "30"))
        self.client = uhppote_async.UhppoteAsync(
            bind=self.bind, broadcast=self.broadcast, listen=self.listen
        )
        self.calls = ControllerCalls(self.timeout)
        self.host: DeviceHost | None = None
        self.states: dict[str, ControllerState] = {}  # by device id
        self.listen_address: tuple[str, int] | None = None
        self.listen_error = ""
        self.malformed = 0
        self.unknown = 0
        self.resync_every = RESYNC_EVERY
        self._socket: EventSocket | None = None
        self._tasks = Background("uhppote: event handling", log)
        self._poller: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ lifecycle

    async def start(self, host: DeviceHost) -> None:
        """Nothing is opened yet: the event listener (and the poll) start with the first
        controller attached (`_listening`), so a bridge without UHPPOTE devices holds no
        UDP port, and stop again when the last one is removed."""
        self.host = host

    async def _listening(self) -> None:
        """Open the event listener on ``listen`` if it is not open. A listener that
        cannot bind (port taken, bad address) does not stop the bridge: the driver runs
        on catch-up alone, onboarding says why it cannot point controllers at us, and the
        next attach tries again."""
        if self._socket is None:
            ip, _, port = self.listen.rpartition(":")
            loop = asyncio.get_running_loop()
            try:
                transport, protocol = await loop.create_datagram_endpoint(
                    lambda: EventSocket(self._on_packet), local_addr=(ip or "0.0.0.0", int(port))
                )
            except (OSError, ValueError) as exc:
                self.listen_error = f"cannot listen for events on {self.listen}: {exc}"
                log.error("uhppote: %s; events only by catch-up", self.listen_error)
            else:
                self._socket = protocol
                self.listen_error = ""
                self.listen_address = transport.get_extra_info("sockname")[:2]
                log.info("uhppote: listening for events on %s:%d", *self.listen_address)
        if self._poller is None and self.poll_seconds > 0:
            self._poller = asyncio.create_task(self._poll())

    async def _quiet(self) -> None:
        """No controller left: close the listener and stop polling."""
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
            self._poller = None
        if self._socket is not None:
            if self._socket.transport is not None:
                self._socket.transport.close()
            if self._socket.closed is not None:
                await self._socket.closed  # the port is free when this returns
            self._socket = None
            self.listen_address = None
            log.info("uhppote: no controller left; event listener closed")

    async def stop(self) -> None:
        await self._quiet()
        await self._tasks.close()
        self.states.clear()

    # ------------------------------------------------------------------ onboarding

    async def discover(self, timeout: float = 1.0) -> list[DiscoveredDevice]:
        """Controllers answering a broadcast on the LAN (port 60000 unless configured)."""
        replies = await self.client.get_all_controllers(timeout=timeout)
        _, _, port = self.broadcast.rpartition(":")
        return [
            DiscoveredDevice(
                serial=str(r.controller),
                address=f"{r.ip_address}:{port or 60000}",
                model="UHPPOTE UT0311",
                firmware=r.version,
            )
            for r in replies
        ]

    async def probe(self, device: DeviceConfig) -> DeviceInfo:
        """Connection test: read the controller's serial, firmware and clock."""
        # at a known address ask as discovery does (serial 0): a controller ignores requests
        # for other serials, and "wrong serial" is more useful to staff than "no answer"
        ask = replace(device, serial="") if device.address else device
        info = await self.calls.call(ask, "get-controller", self.client.get_controller)
        if device.serial and int(device.serial) != info.controller:
            raise DeviceError(
                f"the controller at {device.address} is {info.controller}, not {device.serial}"
            )
        probe_as = replace(device, serial=str(info.controller))
        clock = await self.calls.call(probe_as, "get-time", self.client.get_time)
        at = clock.datetime.replace(tzinfo=zone(device)) if clock.datetime else None
        return DeviceInfo(
            serial=str(info.controller), model="UHPPOTE UT0311", firmware=info.version, clock=at
        )

    async def attach(self, device: DeviceConfig) -> None:
        """Point the controller's events at us, set its clock, catch up on its backlog."""
        state = self.states.get(device.id)
        if state is None:
            state = self.states[device.id] = ControllerState(device)
        state.config = device
        await self._listening()
        await self._configure(state)
        await self.catch_up(device)

    async def _configure(self, state: ControllerState) -> None:
        device = state.config
        ip, port = self._listener_for(device)
        ok = await self.calls.call(
            device, "set-listener", self.client.set_listener, IPv4Address(ip), port
        )
        if not ok.ok:
            raise DeviceError(f"controller {device.serial} refused the event listener {ip}:{port}")
        await self._set_time(state)
        if not ip_of(device.address):
            # onboarded by broadcast (or by name): its events must come from the address
            # it reports itself
            info = await self.calls.call(device, "get-controller", self.client.get_controller)
            state.source_ip = str(info.ip_address)

    async def _set_time(self, state: ControllerState) -> None:
        local = self._now().astimezone(zone(state.config)).replace(tzinfo=None, microsecond=0)
        await self.calls.call(state.config, "set-time", self.client.set_time, local)
        state.last_resync = monotonic()

    def _listener_for(self, device: DeviceConfig) -> tuple[str, int]:
        configured = str(device.options.get("listener") or self.advertise or "")
        if configured:
            ip, _, port = configured.rpartition(":")
            return ip, int(port)
        if self.listen_address is None:
            raise DeviceError(self.listen_error or "the UHPPOTE driver is not started")
        ip, port = self.listen_address
        if ip == "0.0.0.0":
            raise DeviceError(
                "tell controllers where the bridge listens: set TICKETHUB_UHPPOTE_ADVERTISE "
                "(or the device option 'listener') to the bridge's LAN address:port"
            )
        return ip, port

    async def detach(self, device_id: str) -> None:
        self.states.pop(device_id, None)
        if not self.states:
            await self._quiet()

    # ------------------------------------------------------------------ lists and doors

    async def push_credentials(
        self, device: DeviceConfig, credentials: Sequence[GateCredential]
    ) -> None:
        state = self._state(device)
        tz = zone(device)
        now = self._now()
        doors = [int(d) for d in device.options.get("doors", [1, 2, 3, 4])]
        timed = bool(device.options.get("time_profiles", True))
        for cred in credentials:
            if cred.card_no is None or cred.card_no == 0:
                continue  # no number a controller can hold (a face- or QR-only ticket)
            if cred.revoked or cred.valid_until <= now or cred.entries_allowed <= 0:
                await self._delete(state, cred.card_no)
                continue
            span = window(cred, tz)
            permission = ALL_DAY
            if timed and span.segment is not None:
                permission = await self._profile(state, span.start, *span.segment)
            perms = [permission if n in doors else 0 for n in (1, 2, 3, 4)]
            reply = await self.calls.call(
                device,
                "put-card",
                self.client.put_card,
                cred.card_no,
                span.start,
                span.end,
                *perms,
                0,
            )
            if not reply.stored:
                raise DeviceError(f"controller {device.serial} refused card {cred.card_no}")
            state.entries[cred.card_no] = cred.entries_allowed

    async def _profile(self, state: ControllerState, day: date, start: time, end: time) -> int:
        today = self._now().astimezone(zone(state.config)).date()
        return await ensure_profile(self.calls, self.client, state, (day, start, end), today)

    async def _delete(self, state: ControllerState, card: int) -> None:
        await self.calls.call(state.config, "delete-card", self.client.delete_card, card)
        state.entries.pop(card, None)

    async def open_door(self, device: DeviceConfig, door: int = 1) -> None:
        if not 1 <= door <= 4:
            raise DeviceError(f"UHPPOTE doors are 1 to 4, not {door}")
        reply = await self.calls.call(device, "open-door", self.client.open_door, door)
        if not reply.opened:
            raise DeviceError(f"controller {device.serial} did not open door {door}")

    # ------------------------------------------------------------------ events

    def _on_packet(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            event = decode.event(data)
        except (ValueError, IndexError) as exc:
            self.malformed += 1
            log.warning("uhppote: dropped a malformed packet from %s: %s", addr[0], exc)
            return
        assert self.host is not None
        config = self.host.device_by_serial(VENDOR, str(event.controller))
        state = self.states.get(config.id) if config is not None else None
        if state is None:
            self.unknown += 1
            log.warning("uhppote: ignored an event from unknown controller %d", event.controller)
            return
        expected = ip_of(state.config.address) or state.source_ip
        if addr[0] != expected:
            # the protocol has no authentication: an onboarded controller's events come
            # from its own address, anything else is somebody else's packet
            self.unknown += 1
            log.warning(
                "uhppote: ignored an event for %d sent from %s, not %s",
                event.controller,
                addr[0],
                expected or "an address it reported (not attached)",
            )
            return
        if event.event_index == 0:
            return  # a status packet without any event yet
        self._tasks.spawn(self._live(state, Record.from_push(event)))

    async def _live(self, state: ControllerState, record: Record) -> None:
        try:
            reply = await self.calls.call(
                state.config, "get-event", self.client.get_event, record.index
            )
        except DeviceError as exc:  # the catch-up will read it from the log itself
            log.warning("uhppote: could not confirm event %d: %s", record.index, exc)
            return
        if not _same(record, Record.from_get(reply)):
            state.forged += 1
            log.warning(
                "uhppote: dropped a pushed event %d for %s that its log does not hold",
                record.index,
                state.config.serial,
            )
            return
        state.online = True
        state.last_seen = self._now()
        self._check_clock(state, record)
        gap = record.index > state.cursor + 1
        await self._record(state, record)
        if not gap and record.index == state.cursor + 1:
            state.cursor = record.index
        elif gap:
            await self.catch_up(state.config)

    def _check_clock(self, state: ControllerState, record: Record) -> None:
        at = device_time(record, state.config)
        if at is None:
            return
        skew = (at - self._now()).total_seconds()
        state.skew_seconds = round(skew, 1)
        if abs(skew) > SKEW_RESYNC.total_seconds():
            log.warning("uhppote: controller %s clock is %+.0f s off", state.config.serial, skew)
            if monotonic() - state.last_resync > self.resync_every:
                state.last_resync = monotonic()
                self._tasks.spawn(self._set_time(state))

    async def _record(self, state: ControllerState, record: Record) -> None:
        assert self.host is not None
        event = to_device_event(record, state.config)
        if event is None:
            return
        if not await self.host.device_event(event):
            state.duplicates += 1
            return
        state.events += 1
        if record.kind == KIND_CARD and record.granted and record.card in state.entries:
            state.entries[record.card] -= 1
            if state.entries[record.card] <= 0:
                try:
                    await self._delete(state, record.card)
                except DeviceError as exc:  # kept at 0: the next swipe or push retries
                    log.warning(
                        "uhppote: used card %d still on the controller: %s", record.card, exc
                    )

    async def catch_up(self, device: DeviceConfig) -> int:
        """Read every event after our cursor by index, record each, then move the
        controller's downloaded-event register. Returns how many events were read."""
        state = self._state(device)
        async with state.lock:
            register = await self.calls.call(device, "get-event-index", self.client.get_event_index)
            status = await self.calls.call(device, "get-status", self.client.get_status)
            start = max(register.event_index, state.cursor) + 1
            last = min(status.event_index, start + MAX_CATCH_UP - 1)
            read = 0
            for index in range(start, last + 1):
                reply = await self.calls.call(device, "get-event", self.client.get_event, index)
                if reply.event_type == KIND_NOT_FOUND:
                    break
                if reply.event_type == KIND_OVERWRITTEN:
                    state.lost += 1
                    log.warning(
                        "uhppote: event %d of %s was overwritten before it was read",
                        index,
                        device.serial,
                    )
                else:
                    await self._record(state, Record.from_get(reply))
                    read += 1
                state.cursor = max(state.cursor, index)
            if state.cursor > register.event_index:
                await self.calls.call(
                    device, "set-event-index", self.client.set_event_index, state.cursor
                )
            state.last_seen = self._now()
            return read

    async def check(self, device: DeviceConfig) -> None:
        """Liveness for the bridge's health report (`hub.sdk.CheckingDriver`): one get-status
        within the driver's timeout. A controller that answers again after silence is
        re-configured first, as the poll does (it may have rebooted)."""
        state = self._state(device)
        try:
            if not state.online:
                await self._configure(state)
            await self.calls.call(device, "get-status", self.client.get_status)
        except DeviceError:
            state.online = False
            raise
        state.online = True
        state.last_seen = self._now()

    async def _poll(self) -> None:
        """Catch up every controller; one that answers again after silence is
        re-configured first (it may have rebooted and forgotten listener and time)."""
        while True:
            await asyncio.sleep(self.poll_seconds)
            for state in list(self.states.values()):
                try:
                    if not state.online:
                        await self._configure(state)
                        log.info("uhppote: controller %s is back", state.config.serial)
                    state.online = True
                    await self.catch_up(state.config)
                except DeviceError as exc:
                    if state.online:
                        log.warning("uhppote: %s", exc)
                    state.online = False

    # ------------------------------------------------------------------ helpers

    def _now(self) -> datetime:
        assert self.host is not None, "driver not started"
        return self.host.clock.now()

    def _state(self, device: DeviceConfig) -> ControllerState:
        state = self.states.get(device.id)
        if state is None:
            state = self.states[device.id] = ControllerState(device)
        return state

    def status(self, device_id: str) -> dict[str, Any]:
        state = self.states.get(device_id)
        if state is None:
            return {"attached": False}
        return {
            "attached": True,
            "online": state.online,
            "last_seen": state.last_seen.isoformat() if state.last_seen else None,
            "event_cursor": state.cursor,
            "events": state.events,
            "duplicates": state.duplicates,
            "lost": state.lost,
            "clock_skew_seconds": state.skew_seconds,
            "forged": state.forged,
        }


def _same(pushed: Record, held: Record) -> bool:
    """The pushed event is the one the controller's log holds at that index."""
    if held.kind in (KIND_NOT_FOUND, KIND_OVERWRITTEN):
        return False
    fields = ("controller", "index", "kind", "granted", "door", "direction", "card", "reason")
    return all(getattr(pushed, f) == getattr(held, f) for f in fields) and (
        pushed.at is None or held.at is None or pushed.at == held.at
    )

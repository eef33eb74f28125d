"""ZKTeco push-protocol terminals: the bridge is their HTTP server.

Devices decide from their own user list (tickets pushed as users with a card number and
a validity window) and report every access afterwards. They identify themselves only by
serial number — printed on the device, sent in clear, so anyone on the LAN could claim
it — and the iclock protocol (``Encrypt=0``) carries no secret the server can check. So a
device is onboarded with the address it connects from (``--address``, its IP; probe
checks its hello came from there), and every request is answered only for a known serial
FROM that address — anything else gets a 403, a log line and a count in `status`. The
bridge then takes a "granted" log line only for a user it pushed to this device.

Commands wait in a per-device queue until the device reports their
result; the queue is in memory, and `attach` re-pushes the full list after a bridge
restart, so a lost queue costs a re-push, never a wrong admission.

Catch-up after an outage is the device's own: it keeps its log and uploads everything
after the stamp we gave it in the handshake; records are keyed by the device's index
(or a digest of the line) so a re-upload is recorded once by the host.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from hub.sdk import (
    DeviceConfig,
    DeviceConfigError,
    DeviceError,
    DeviceEvent,
    DeviceHost,
    DeviceInfo,
    Direction,
    GateCredential,
    Medium,
)
from hub.sdk.drivers import address_ip, peer_ip
from plugins.device_zkteco import protocol as zk

log = logging.getLogger(__name__)

VENDOR = "zkteco"
SEEN_FOR_PROBE = timedelta(minutes=5)
MAX_COMMANDS_PER_POLL = 20
FACE_VERIFY_TYPES = frozenset({15})


@dataclass
class DeviceState:
    config: DeviceConfig
    pending: dict[str, str] = field(default_factory=dict)  # command id → command
    failed: dict[str, int] = field(default_factory=dict)  # command id → Return code
    last_seen: datetime | None = None
    last_upload: datetime | None = None
    stamp: str = "None"
    events: int = 0
    rejected_lines: int = 0
    forged: int = 0  # requests with its serial from another address


@dataclass(frozen=True, slots=True)
class Hello:
    at: datetime
    pushver: str
    known: bool
    remote: str = ""  # the address it said hello from


class ZKTecoDriver:
    vendor = VENDOR

    def __init__(self) -> None:
        self.host: DeviceHost | None = None
        self.states: dict[str, DeviceState] = {}  # by serial
        self.hellos: dict[str, Hello] = {}  # every serial that said hello (probe)
        self._ids = itertools.count(1)

    # ------------------------------------------------------------------ lifecycle

    async def start(self, host: DeviceHost) -> None:
        self.host = host
        r = host.routes
        tag = "zkteco"
        r.get("/iclock/cdata", summary="ZKTeco handshake", tag=tag)(self._hello)
        r.post("/iclock/cdata", summary="ZKTeco log upload", tag=tag)(self._upload)
        r.get("/iclock/getrequest", summary="ZKTeco command poll", tag=tag)(self._poll)
        r.post("/iclock/devicecmd", summary="ZKTeco command results", tag=tag)(self._results)

    async def stop(self) -> None:
        self.states.clear()

    async def probe(self, device: DeviceConfig) -> DeviceInfo:
        """A push device cannot be dialled: it must have said hello recently. Its serial
        is the one it sent: without one from staff, the single device that said hello
        and is not onboarded yet is the one (with several waiting, staff name it)."""
        now = self._now()
        expected = address_ip(device.address)
        serial = device.serial
        if not serial:
            waiting = self._waiting(now, expected)
            if len(waiting) > 1:
                raise DeviceConfigError(
                    f"{len(waiting)} ZKTeco devices are waiting to be added "
                    f"({', '.join(waiting)}): give the serial of the one to add"
                )
            serial = waiting[0] if waiting else ""
        hello = self.hellos.get(serial)
        if hello is None or now - hello.at > SEEN_FOR_PROBE:
            raise DeviceError(
                f"ZKTeco {serial or '<no serial>'} has not contacted the bridge: set "
                "its server address to this bridge (Comm > Cloud Server) and retry"
            )
        if expected is None:
            raise DeviceConfigError(
                f"enter the IP address ZKTeco {serial or '<no serial>'} connects from "
                f"(--address; it said hello from {hello.remote or '?'}): requests from any "
                "other address are refused"
            )
        if hello.remote != expected:
            raise DeviceConfigError(
                f"ZKTeco {serial} said hello from {hello.remote or '?'}, not "
                f"{expected}: check the address (or who else claims this serial)"
            )
        return DeviceInfo(serial=serial, model="ZKTeco push", firmware=hello.pushver)

    def _waiting(self, now: datetime, address: str | None) -> list[str]:
        """Serials that said hello lately (from ``address`` when staff gave one) and are
        not onboarded."""
        assert self.host is not None
        return sorted(
            serial
            for serial, hello in self.hellos.items()
            if now - hello.at <= SEEN_FOR_PROBE
            and (address is None or hello.remote == address)
            and self.host.device_by_serial(VENDOR, serial) is None
        )

    async def attach(self, device: DeviceConfig) -> None:
        self.states.setdefault(device.serial, DeviceState(device)).config = device

    async def detach(self, device_id: str) -> None:
        for serial, state in list(self.states.items()):
            if state.config.id == device_id:
                del self.states[serial]

    async def push_credentials(
        self, device: DeviceConfig, credentials: Sequence[GateCredential]
    ) -> None:
        """Users keyed by PIN = the ticket's card number (ZKTeco cards are numeric)."""
        state = self._state(device)
        tz = self._tz(device)
        for cred in credentials:
            if cred.card_no is None:
                continue  # this ticket has no number a card reader can present
            pin = str(cred.card_no)
            if cred.revoked:
                self._queue(state, zk.user_delete(pin))
            else:
                command = zk.user_update(
                    pin,
                    name=cred.name or cred.ticket_id,
                    card=pin,
                    start=cred.valid_from,
                    end=cred.valid_until,
                    tz=tz,
                )
                self._queue(state, command)

    async def open_door(self, device: DeviceConfig, door: int = 1) -> None:
        self._queue(self._state(device), zk.open_door(door))

    def status(self, device_id: str) -> dict[str, Any]:
        """Health for `tickethub device list`: last contact, queue, failures."""
        state = next((s for s in self.states.values() if s.config.id == device_id), None)
        if state is None:
            return {"attached": False}
        return {
            "attached": True,
            "last_seen": state.last_seen.isoformat() if state.last_seen else None,
            "pending_commands": len(state.pending),
            "failed_commands": len(state.failed),
            "events": state.events,
            "forged": state.forged,
        }

    # ------------------------------------------------------------------ helpers

    def _now(self) -> datetime:
        assert self.host is not None, "driver not started"
        return self.host.clock.now()

    def _state(self, device: DeviceConfig) -> DeviceState:
        return self.states.setdefault(device.serial, DeviceState(device))

    def _queue(self, state: DeviceState, command: str) -> None:
        state.pending[str(next(self._ids))] = command

    @staticmethod
    def _tz(device: DeviceConfig) -> Any:
        return zk.zone(float(device.options.get("tz_hours", 8)))

    def _known(self, request: web.Request) -> tuple[str, DeviceState | None]:
        serial = request.query.get("SN", "").strip()
        assert self.host is not None
        config = self.host.device_by_serial(VENDOR, serial) if serial else None
        if config is None:
            return serial, None
        state = self._state(config)
        expected, remote = address_ip(config.address), _peer(request)
        if expected is None or remote != expected:
            state.forged += 1
            log.warning(
                "zkteco: refused a request as %s (serial %s) from %s, not %s",
                config.id,
                serial[:32],
                remote,
                expected or "an onboarded address (re-onboard it with --address)",
            )
            return serial, None
        state.config = config
        state.last_seen = self._now()
        return serial, state

    @staticmethod
    def _refuse(serial: str) -> web.Response:
        log.warning("zkteco: refused unknown serial %r", serial[:32])
        return web.Response(status=403, text="UNKNOWN DEVICE")

    # ------------------------------------------------------------------ routes

    async def _hello(self, request: web.Request) -> web.Response:
        serial, state = self._known(request)
        if serial:
            pushver = request.query.get("pushver", "")[:32]
            self.hellos[serial] = Hello(self._now(), pushver, state is not None, _peer(request))
        if state is None:
            return self._refuse(serial)
        hours = int(float(state.config.options.get("tz_hours", 8)))
        text = zk.handshake(serial, stamp=state.stamp, tz_hours=hours)
        return web.Response(text=text)

    async def _upload(self, request: web.Request) -> web.Response:
        serial, state = self._known(request)
        if state is None:
            return self._refuse(serial)
        table = request.query.get("table", "")
        text = zk.decode_text(await request.read())
        if table.lower() not in ("rtlog", "attlog"):
            return web.Response(text="OK")  # OPERLOG, user uploads …: not entries
        parse = zk.parse_rtlog if table.lower() == "rtlog" else zk.parse_attlog
        tz = self._tz(state.config)
        assert self.host is not None
        count = 0
        for line in zk.lines(text):
            count += 1
            try:
                record = parse(serial, line, tz)
            except zk.ProtocolError as exc:
                state.rejected_lines += 1
                log.warning("zkteco %s: skipped a malformed %s line: %s", serial, table, exc)
                continue
            medium = Medium.FACE if record.verify in FACE_VERIFY_TYPES else Medium.CARD
            value = record.card or record.pin
            event = DeviceEvent(
                device_id=state.config.id,
                event_key=record.key,
                granted=record.granted,
                medium=medium,
                value=value,
                gate=state.config.gate,
                direction=Direction(record.direction),
                at=record.at,
                reason="" if record.granted else f"device event {record.event}",
            )
            if await self.host.device_event(event):
                state.events += 1
        stamp = request.query.get("Stamp", "")
        if stamp.isdigit():
            state.stamp = stamp
        state.last_upload = self._now()
        return web.Response(text=f"OK: {count}")

    async def _poll(self, request: web.Request) -> web.Response:
        serial, state = self._known(request)
        if state is None:
            return self._refuse(serial)
        batch = list(itertools.islice(state.pending.items(), MAX_COMMANDS_PER_POLL))
        return web.Response(text=zk.commands_text(batch) if batch else "OK")

    async def _results(self, request: web.Request) -> web.Response:
        serial, state = self._known(request)
        if state is None:
            return self._refuse(serial)
        for cid, code in zk.parse_results(zk.decode_text(await request.read())):
            command = state.pending.pop(cid, None)
            if command is not None and code != 0:
                state.failed[cid] = code
                log.warning("zkteco %s: command %s failed with %s", serial, cid, code)
        return web.Response(text="OK")


def _peer(request: web.Request) -> str:
    return peer_ip(request.remote) or request.remote or ""

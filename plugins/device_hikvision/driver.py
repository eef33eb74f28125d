"""Hikvision ISAPI face and access terminals.

Onboarding reads the serial from ``/ISAPI/System/deviceInfo`` (Digest auth), then points
the terminal's HTTP host at the bridge's event route, syncs its clock and catches up
on events it stored while nobody listened (``AcsEvent`` search, deduplicated by
``serialNo`` at the host). Tickets are pushed as persons with a validity window, their
card number, and the visitor's face photo when one was enrolled. Signed QR codes are too
long for a terminal's card list, so QR scans use online "remote verification": the
terminal asks, the bridge decides with the one rule engine and answers ``remoteCheck``.

Events are authenticated (`auth`): the terminal's HTTP host is configured with Digest
authentication and a password of its own, and an event is taken only from the
terminal's address with a valid Digest answer — anything else is refused before it is
read, so a forged "granted" event (or a forged remote check) redeems nothing. The bridge
then takes a "granted" event only for a person it pushed to this terminal.

Device options: ``user``, ``password`` (Digest, ISAPI), ``event_url`` (the bridge's URL
as the terminal reaches it; default: the host's own base URL), ``tz_hours`` (default 8),
``event_user`` / ``event_password`` (what the terminal posts events with; default
``tickethub`` and a password derived from ``password``), ``event_from`` (the address(es)
its events come from, comma-separated, when not the one in ``address``, e.g. behind NAT).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import socket
import uuid
from collections.abc import Sequence
from typing import Any

from aiohttp import web

from hub.sdk import (
    DeviceConfig,
    DeviceConfigError,
    DeviceError,
    DeviceHost,
    DeviceInfo,
    GateCredential,
    Scan,
)
from hub.sdk.drivers import Background
from plugins.device_hikvision.auth import DigestGuard, address_of, event_credentials, same_ip
from plugins.device_hikvision.events import (
    AccessEvent,
    EventError,
    from_notification,
    from_search_row,
)
from plugins.device_hikvision.isapi import Isapi

log = logging.getLogger(__name__)

VENDOR = "hikvision"
EVENT_PATH = "/hikvision/events/{device_id}"
MAX_EVENT_BYTES = 512 * 1024  # JSON plus one snapshot (terminals keep them ≤ 200 KB)


class HikvisionDriver:
    vendor = VENDOR

    def __init__(self) -> None:
        self.host: DeviceHost | None = None
        self.last_serial: dict[str, int] = {}  # device id → highest serialNo recorded
        self.remote_checks = 0
        self.guard = DigestGuard()
        self.sources: dict[str, frozenset[str]] = {}  # device id → addresses it posts from
        self.refused: dict[str, int] = {"unknown_device": 0, "wrong_source": 0, "bad_auth": 0}
        self._tasks = Background("hikvision: remote check", log)

    # ------------------------------------------------------------------ lifecycle

    async def start(self, host: DeviceHost) -> None:
        self.host = host
        host.routes.post(EVENT_PATH, summary="Hikvision event receiver", tag="hikvision")(
            self._event
        )

    async def stop(self) -> None:
        await self._tasks.close()

    def _isapi(self, device: DeviceConfig) -> Isapi:
        assert self.host is not None, "driver not started"
        opts = device.options
        if not device.address:
            raise DeviceConfigError("a Hikvision terminal needs its address (http://ip:port)")
        base = device.address if "://" in device.address else f"http://{device.address}"
        return Isapi(
            self.host.http, base, str(opts.get("user", "admin")), str(opts.get("password", ""))
        )

    async def probe(self, device: DeviceConfig) -> DeviceInfo:
        info = await self._isapi(device).device_info()
        assert self.host is not None
        return DeviceInfo(info.serial, info.model, info.firmware, clock=None)

    async def attach(self, device: DeviceConfig) -> None:
        assert self.host is not None
        isapi = self._isapi(device)
        base = str(device.options.get("event_url") or getattr(self.host, "base_url", ""))
        if not base:
            raise DeviceError("no event_url option and the bridge does not know its own URL")
        self.sources[device.id] = await _resolve(device)
        user, password = event_credentials(device)
        await isapi.set_http_host(
            base.rstrip("/") + EVENT_PATH.format(device_id=device.id), user, password
        )
        await isapi.set_time(self.host.clock.now(), float(device.options.get("tz_hours", 8)))
        await self.catch_up(device)

    async def detach(self, device_id: str) -> None:
        self.last_serial.pop(device_id, None)
        self.sources.pop(device_id, None)

    async def catch_up(self, device: DeviceConfig) -> int:
        """Every stored event the bridge has not recorded yet; returns how many were new."""
        assert self.host is not None
        isapi = self._isapi(device)
        search_id, position, new = uuid.uuid4().hex, 0, 0
        while True:
            page = await isapi.search_events(search_id, position)
            rows = page.get("InfoList") or []
            for row in rows:
                try:
                    event = from_search_row(row)
                except EventError:
                    continue
                new += await self._record(device, event)
            position += len(rows)
            if page.get("responseStatusStrg") != "MORE" or not rows:
                return new

    async def push_credentials(
        self, device: DeviceConfig, credentials: Sequence[GateCredential]
    ) -> None:
        isapi = self._isapi(device)
        tz = float(device.options.get("tz_hours", 8))
        for cred in credentials:
            employee = str(cred.card_no) if cred.card_no is not None else cred.ticket_id[:32]
            if cred.revoked:
                await isapi.delete_user(employee)
                continue
            await isapi.upsert_user(
                employee, cred.name or cred.ticket_id, cred.valid_from, cred.valid_until, tz
            )
            if cred.card_no is not None:
                await isapi.set_card(employee, str(cred.card_no))
            if cred.face_jpeg:
                await isapi.set_face(employee, cred.face_jpeg)

    async def open_door(self, device: DeviceConfig, door: int = 1) -> None:
        await self._isapi(device).open_door(door)

    # ------------------------------------------------------------------ events

    async def _record(self, device: DeviceConfig, event: AccessEvent) -> int:
        assert self.host is not None
        recorded = await self.host.device_event(event.as_device_event(device.id, device.gate))
        if event.serial_no > self.last_serial.get(device.id, 0):
            self.last_serial[device.id] = event.serial_no
        return int(recorded)

    async def _event(self, request: web.Request) -> web.Response:
        assert self.host is not None
        device = self.host.device(request.match_info["device_id"])
        if device is None or device.vendor != VENDOR:
            log.warning(
                "hikvision: event for unknown device %r", request.match_info["device_id"][:64]
            )
            self.refused["unknown_device"] += 1
            return web.json_response({"statusString": "unknown device"}, status=404)
        refusal = self._authenticate(request, device)
        if refusal is not None:
            return refusal
        try:
            doc = await _read_event(request)
            event = from_notification(doc)
        except EventError as exc:
            log.warning("hikvision %s: ignored an event: %s", device.id, exc)
            return web.json_response({"statusString": "ignored", "reason": str(exc)})
        if event.remote_check:
            scan = Scan(
                device_id=device.id,
                gate=device.gate,
                medium=event.medium,
                value=event.value or "?",
                at=event.at,
            )
            self._tasks.spawn(self._answer_check(device, event.serial_no, scan))
        else:
            await self._record(device, event)
        return web.json_response({"statusString": "OK"})

    def _authenticate(self, request: web.Request, device: DeviceConfig) -> web.Response | None:
        """None when the request is the terminal's own, else the refusal to send (before
        the body is read)."""
        sources = self.sources.get(device.id)
        if sources is None:  # not attached yet (start-up): an IP address needs no lookup
            sources = _literal(device)
        if not same_ip(request.remote, sources):
            self.refused["wrong_source"] += 1
            log.warning(
                "hikvision %s: refused an event from %s (the terminal is %s)",
                device.id,
                request.remote,
                ", ".join(sorted(sources)) or "not attached",
            )
            return web.json_response({"statusString": "forbidden"}, status=403)
        try:
            user, password = event_credentials(device)
        except DeviceError:
            user, password = "", ""
        ok, stale = self.guard.check(
            request.headers.get("Authorization", ""),
            method=request.method,
            uri=request.path_qs,
            user=user,
            password=password,
        )
        if ok and password:
            return None
        if request.headers.get("Authorization"):  # a first request without one is normal
            self.refused["bad_auth"] += 1
            log.warning("hikvision %s: refused an event with a wrong Digest answer", device.id)
        return web.json_response(
            {"statusString": "unauthorized"},
            status=401,
            headers={"WWW-Authenticate": self.guard.challenge(stale=stale)},
        )

    async def _answer_check(self, device: DeviceConfig, serial_no: int, scan: Scan) -> None:
        """The terminal waits for our verdict after its POST was answered."""
        assert self.host is not None
        decision = await self.host.decide(scan)
        self.remote_checks += 1
        try:
            await self._isapi(device).remote_check(serial_no, decision.allow)
        except DeviceError as exc:
            log.warning("hikvision %s: remote check answer lost: %s", device.id, exc)


def _literal(device: DeviceConfig) -> frozenset[str]:
    """The addresses a terminal's events may come from without a DNS lookup."""
    configured = str(device.options.get("event_from") or "")
    hosts = [h.strip() for h in configured.split(",") if h.strip()] or [address_of(device)]
    out = set()
    for host in hosts:
        try:
            out.add(str(ipaddress.ip_address(host)))
        except ValueError:
            continue
    return frozenset(out)


async def _resolve(device: DeviceConfig) -> frozenset[str]:
    """Every address the terminal's events may come from: ``event_from`` or the host of
    its ``address``, names resolved (at attach: a terminal keeps its address)."""
    configured = str(device.options.get("event_from") or "")
    hosts = [h.strip() for h in configured.split(",") if h.strip()] or [address_of(device)]
    out: set[str] = set(_literal(device))
    loop = asyncio.get_running_loop()
    for host in hosts:
        try:
            ipaddress.ip_address(host)
            continue
        except ValueError:
            pass
        try:
            infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise DeviceError(f"cannot resolve the terminal's address {host!r}: {exc}") from exc
        out.update(str(info[4][0]) for info in infos)
    if not out:
        raise DeviceError("the terminal has no address its events could come from")
    return frozenset(out)


async def _read_event(request: web.Request) -> Any:
    """JSON body, or the JSON part of a multipart body (the snapshot is not kept)."""
    if request.content_length is not None and request.content_length > MAX_EVENT_BYTES:
        raise EventError("event too large")
    if request.content_type.startswith("multipart/"):
        reader = await request.multipart()
        total = 0
        async for part in reader:
            data = await part.read(decode=False)
            total += len(data)
            if total > MAX_EVENT_BYTES:
                raise EventError("event too large")
            ctype = part.headers.get("Content-Type", "")
            if "json" in ctype or (part.name or "").lower() in (
                "event_log",
                "accesscontrollerevent",
            ):
                return _json(data)
        raise EventError("multipart event without a JSON part")
    return _json(await request.read())


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise EventError("event is not JSON") from exc

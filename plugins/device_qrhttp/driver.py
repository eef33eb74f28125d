"""HTTP QR / ID-card readers on turnstiles: the reader asks, the bridge decides, the reader
opens its relay on a positive answer.

Such readers hold no list and cannot decide alone: when the bridge is unreachable they
stay shut (that is the vendor's behaviour, not ours to change), which is why the bridge
sits on the venue LAN and decides offline from its cache.

Two things the HTTP round trip makes subtle:

- A reader that times out retries the SAME request (same code, same device time), and a
  visitor whose gate stayed shut scans again. Either way the first decision may already
  have used the ticket's entry. So decisions are kept per (device, code) for
  ``replay_seconds``: an identical retry gets the first answer again, and a rescan after
  an answer that never reached the reader gets that late answer instead of "already
  used". A ticket is therefore never consumed without its gate opening.
- A scan uses up a ticket, so only the onboarded reader may send one: its serial, the
  secret ``token`` it was given at onboarding (in the URL it is configured with,
  ``…?token=…``, or an ``Authorization: Bearer`` header), and, when the reader was
  onboarded with an ``address``, that address. Anything else is refused in the reader's
  vocabulary (403) before any decision — nothing is used up.
- Work per scan is constant whatever the number of readers: the dialects that may have
  sent a request are looked up by route in a table rebuilt only when a reader is attached
  or detached, the reader by serial in an index kept the same way, and the remembered
  decisions are kept in the order they were taken, so expired ones are dropped from the
  front instead of walking every scan of the last ``replay_seconds``.
- The answer must come within the reader's timeout (``timeout_ms`` of the mapping): the
  decision gets 80 % of it; when it is late the reader is told to scan again, and the
  decision (which goes on) is handed to that rescan.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web
from pydantic import ValidationError

from hub.domain.masking import mask_scan
from hub.sdk import (
    DeviceConfig,
    DeviceConfigError,
    DeviceError,
    DeviceHost,
    DeviceInfo,
    GateCredential,
    GateDecision,
    Scan,
)
from plugins.device_qrhttp.mapping import MappingError, QRMapping, build, shipped

log = logging.getLogger(__name__)

VENDOR = "qrhttp"
MAX_BODY = 16 * 1024
REPLAY_SECONDS = 30.0
SKEW_WARN = timedelta(minutes=5)
GENERIC_PREFIX = "/qrhttp/"
MIN_TOKEN = 16


@dataclass
class Flight:
    """One decision in progress or taken, remembered for retries and rescans."""

    task: asyncio.Task[GateDecision]
    raw_time: str
    started: float
    delivered: bool = False


@dataclass
class ReaderState:
    config: DeviceConfig
    mapping: QRMapping
    last_seen: datetime | None = None
    skew_seconds: float | None = None
    scans: int = 0
    refused: int = 0
    late: int = 0
    forged: int = 0  # requests with its serial but a wrong token or address


@dataclass
class Request:
    """The reader's fields, whichever way it sent them."""

    fields: Mapping[str, str]
    error: str = ""
    status: int = 200


class QRHttpDriver:
    vendor = VENDOR
    keeps_lists = False  # a reader asks the bridge for every scan

    def __init__(self, *, replay_seconds: float = REPLAY_SECONDS) -> None:
        self.host: DeviceHost | None = None
        self.readers: dict[str, ReaderState] = {}  # by device id
        self._by_serial: dict[str, str] = {}  # serial -> device id
        # oldest first: a retried or new flight for a key moves to the end
        self.flights: OrderedDict[tuple[str, str], Flight] = OrderedDict()
        self._stale: set[asyncio.Task[GateDecision]] = set()  # expired, still deciding
        self.replay_seconds = replay_seconds
        self.routes: set[tuple[str, str]] = set()
        self._library = {name: build({"mapping": name}) for name in shipped()}
        self._by_route: dict[tuple[str, str], list[QRMapping]] = {}
        self._index()

    # ------------------------------------------------------------------ lifecycle

    async def start(self, host: DeviceHost) -> None:
        """Mount every shipped dialect's path, and ``/qrhttp/{anything}`` for readers
        configured with a path of their own (routes are fixed once the bridge runs)."""
        self.host = host
        for mapping in self._library.values():
            if mapping.route in self.routes:
                continue
            self.routes.add(mapping.route)
            host.routes.route(
                mapping.method, mapping.path, summary=f"QR reader scan ({mapping.name})", tag=VENDOR
            )(self._scan)
        for method in ("GET", "POST"):
            host.routes.route(
                method,
                GENERIC_PREFIX + "{tail:.+}",
                summary="QR reader scan (custom path)",
                tag=VENDOR,
            )(self._scan)

    async def stop(self) -> None:
        for task in [f.task for f in self.flights.values()] + list(self._stale):
            if not task.done():
                task.cancel()
        self.flights.clear()
        self._stale.clear()

    def _served(self, mapping: QRMapping) -> bool:
        return mapping.route in self.routes or mapping.path.startswith(GENERIC_PREFIX)

    async def probe(self, device: DeviceConfig) -> DeviceInfo:
        """Readers cannot be dialled (they call us): probing validates the mapping and the
        serial the reader will send, and says which URL to configure on it."""
        mapping = self._mapping(device)
        if not device.serial:
            raise DeviceConfigError(
                f"enter the reader's serial number: it sends it as {mapping.serial!r} with every "
                "scan and unknown serials are refused"
            )
        token = str(device.options.get("token") or "")
        if len(token) < MIN_TOKEN:
            raise DeviceConfigError(
                f"give the reader a secret of its own (at least {MIN_TOKEN} characters), "
                f"e.g. --option token={secrets.token_urlsafe(18)}, and configure its URL as "
                f"http://<bridge>{mapping.path}?token=<that secret>: scans without it are refused"
            )
        if device.address and _ip(device.address) is None:
            raise DeviceConfigError(
                f"the reader's address must be its IP address (scans from elsewhere are "
                f"refused), not {device.address!r}"
            )
        return DeviceInfo(serial=device.serial, model=f"HTTP QR reader ({mapping.name})")

    async def attach(self, device: DeviceConfig) -> None:
        mapping = self._mapping(device)
        old = self.readers.get(device.id)
        if old is not None and self._by_serial.get(old.config.serial or "") == device.id:
            del self._by_serial[old.config.serial or ""]
        self.readers[device.id] = ReaderState(device, mapping)
        if device.serial:
            self._by_serial[device.serial] = device.id
        self._index()
        log.info(
            "qrhttp: reader %s (%s) served on %s %s",
            device.id,
            mapping.name,
            mapping.method,
            mapping.path,
        )

    async def detach(self, device_id: str) -> None:
        state = self.readers.pop(device_id, None)
        if state is not None and self._by_serial.get(state.config.serial or "") == device_id:
            del self._by_serial[state.config.serial or ""]
        self._index()

    async def push_credentials(
        self, device: DeviceConfig, credentials: Sequence[GateCredential]
    ) -> None:
        """Online readers hold no list: every scan is asked for."""

    async def open_door(self, device: DeviceConfig, door: int = 1) -> None:
        raise DeviceError(
            "HTTP QR readers only open in answer to a scan; use the turnstile's own button"
        )

    def status(self, device_id: str) -> dict[str, Any]:
        state = self.readers.get(device_id)
        if state is None:
            return {"attached": False}
        return {
            "attached": True,
            "mapping": state.mapping.name,
            "last_seen": state.last_seen.isoformat() if state.last_seen else None,
            "clock_skew_seconds": state.skew_seconds,
            "scans": state.scans,
            "refused": state.refused,
            "late_answers": state.late,
            "forged": state.forged,
        }

    def _mapping(self, device: DeviceConfig) -> QRMapping:
        try:
            mapping = build(device.options)
        except MappingError as exc:
            raise DeviceError(str(exc)) from exc
        if not self._served(mapping):
            served = sorted(p for _, p in self.routes)
            raise DeviceError(
                f"path {mapping.path!r} is not served: use one of {served} or a path under "
                f"{GENERIC_PREFIX}"
            )
        return mapping

    # ------------------------------------------------------------------ the route

    def _index(self) -> None:
        """Rebuild the route → dialects table (attached readers' dialects first, each
        distinct dialect once). Runs on attach and detach, never per scan: comparing
        every reader's mapping on each scan grew with the installation."""
        by_route: dict[tuple[str, str], dict[str, QRMapping]] = {}
        for mapping in [s.mapping for s in self.readers.values()] + list(self._library.values()):
            by_route.setdefault(mapping.route, {}).setdefault(repr(mapping), mapping)
        self._by_route = {route: list(seen.values()) for route, seen in by_route.items()}

    def _dialects(self, method: str, path: str) -> list[QRMapping]:
        """Dialects that may have sent this request: attached readers' first."""
        return self._by_route.get((method, path), [])

    async def _scan(self, request: web.Request) -> web.Response:
        dialects = self._dialects(request.method, request.path)
        if not dialects:
            log.warning("qrhttp: scan on %s %s matches no reader", request.method, request.path)
            return web.json_response({"status": 0, "text": "Unknown device"}, status=404)
        parsed: dict[str, Request] = {}
        for mapping in dialects:
            if mapping.source not in parsed:
                parsed[mapping.source] = await self._read(request, mapping.source)
        for mapping in dialects:
            req = parsed[mapping.source]
            serial = req.fields.get(mapping.serial, "").strip()
            state = self._reader(serial) if serial else None
            if state is not None and (state.mapping is mapping or state.mapping == mapping):
                why = _forged(request, state.config)
                if why:
                    state.forged += 1
                    log.warning("qrhttp: refused a scan as %s: %s", state.config.id, why)
                    return self._deny(mapping, "Unauthorized", status=403)
                return await self._answer_scan(state, req)
        # nobody we know: answer in the first dialect's vocabulary
        mapping = dialects[0]
        req = parsed[mapping.source]
        if req.error:
            log.warning("qrhttp: refused a malformed scan on %s: %s", request.path, req.error)
            return self._deny(mapping, "Invalid scan", status=req.status)
        serial = req.fields.get(mapping.serial, "")
        log.warning("qrhttp: refused a scan from unknown serial %r", serial[:32])
        return self._deny(mapping, "Unknown device", status=403)

    def _reader(self, serial: str) -> ReaderState | None:
        """The attached reader with this serial, its configuration as the host holds it
        now (a token changed since attach counts) — by index, not by walking devices."""
        assert self.host is not None
        device_id = self._by_serial.get(serial)
        if device_id is None:
            return None
        config = self.host.device(device_id)
        if config is None or config.vendor != VENDOR or config.serial != serial:
            return None
        state = self.readers.get(device_id)
        if state is not None:
            state.config = config
        return state

    @staticmethod
    async def _read(request: web.Request, source: str) -> Request:
        if source == "query":
            return Request({k: v for k, v in request.query.items()})
        if request.content_length is not None and request.content_length > MAX_BODY:
            return Request({}, "body too large", 413)
        try:
            body = await request.content.read(MAX_BODY + 1)
        except (ConnectionError, asyncio.IncompleteReadError) as exc:
            return Request({}, f"unreadable body: {exc.__class__.__name__}", 400)
        if len(body) > MAX_BODY:
            return Request({}, "body too large", 413)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return Request({}, "body is not UTF-8", 400)
        if source == "form":
            return Request(dict(parse_qsl(text, keep_blank_values=True)))
        try:
            doc = json.loads(text)
        except ValueError:
            return Request({}, "body is not JSON", 400)
        if not isinstance(doc, dict):
            return Request({}, "JSON body is not an object", 400)
        fields = {str(k): str(v) for k, v in doc.items() if isinstance(v, str | int | float)}
        return Request(fields)

    async def _answer_scan(self, state: ReaderState, req: Request) -> web.Response:
        mapping = state.mapping
        host = self.host
        assert host is not None
        now = host.clock.now()
        state.last_seen = now
        if req.error:
            state.refused += 1
            log.warning("qrhttp: %s sent a malformed scan: %s", state.config.id, req.error)
            return self._deny(mapping, "Invalid scan", status=req.status, now=now)
        code = req.fields.get(mapping.code, "").strip()
        medium = (
            mapping.medium(req.fields.get(mapping.kind, ""))
            if mapping.kind
            else (mapping.default_kind)
        )
        raw_time = req.fields.get(mapping.time, "") if mapping.time else ""
        device_at = self._device_time(state, raw_time, now)
        gate = (req.fields.get(mapping.gate, "") if mapping.gate else "") or state.config.gate
        try:
            scan = Scan(
                device_id=state.config.id,
                gate=gate[:64],
                medium=medium,
                value=code,
                at=device_at,
            )
        except ValidationError:
            state.refused += 1
            log.warning("qrhttp: %s sent an unusable code (%d chars)", state.config.id, len(code))
            return self._deny(mapping, "Invalid code", status=400, now=now)
        state.scans += 1
        flight = self._flight(scan, raw_time)
        budget = mapping.timeout_ms / 1000 * 0.8
        try:
            decision = await asyncio.wait_for(asyncio.shield(flight.task), budget)
        except TimeoutError:
            state.late += 1
            log.warning(
                "qrhttp: decision for %s at %s missed the reader's %d ms; handed to the rescan",
                mask_scan(medium, code),
                state.config.id,
                mapping.timeout_ms,
            )
            return self._deny(mapping, "Please scan again", now=host.clock.now())
        except Exception:
            log.exception("qrhttp: decision failed at %s", state.config.id)
            self.flights.pop((scan.device_id, scan.value), None)
            return self._deny(mapping, "Please scan again", now=host.clock.now())
        flight.delivered = True
        log.info(
            "qrhttp: %s %s at %s (%s)",
            "open" if decision.allow else "deny",
            mask_scan(medium, code),
            state.config.id,
            decision.code or "ok",
        )
        doc = mapping.render(allow=decision.allow, text=decision.reason, now=host.clock.now())
        return web.json_response(doc)

    def _flight(self, scan: Scan, raw_time: str) -> Flight:
        assert self.host is not None
        now = time.monotonic()
        self._forget(now)
        key = (scan.device_id, scan.value)
        flight = self.flights.get(key)
        if flight is not None and now - flight.started <= self.replay_seconds:
            failed = flight.task.done() and (
                flight.task.cancelled() or flight.task.exception() is not None
            )
            same_request = bool(raw_time) and raw_time == flight.raw_time
            if not failed and (same_request or not flight.delivered):
                return flight
        flight = Flight(asyncio.ensure_future(self.host.decide(scan)), raw_time, now)
        self.flights.pop(key, None)  # a new flight goes to the end: oldest stay first
        self.flights[key] = flight
        return flight

    def _forget(self, now: float) -> None:
        """Drop the flights older than ``replay_seconds`` from the front (oldest first):
        amortised constant work per scan. One still deciding is kept aside until it ends,
        so `stop` can still cancel it."""
        while self.flights:
            key, oldest = next(iter(self.flights.items()))
            if now - oldest.started <= self.replay_seconds:
                return
            del self.flights[key]
            if not oldest.task.done():
                self._stale.add(oldest.task)
                oldest.task.add_done_callback(self._stale.discard)

    def _device_time(self, state: ReaderState, raw: str, now: datetime) -> datetime | None:
        if not raw:
            return None
        try:
            at = state.mapping.time_format.parse(raw)
        except (ValueError, OverflowError, OSError):
            log.warning("qrhttp: %s sent an unreadable time %r", state.config.id, raw[:40])
            return None
        skew = (at - now).total_seconds()
        state.skew_seconds = round(skew, 1)
        if abs(skew) > SKEW_WARN.total_seconds():
            log.warning(
                "qrhttp: %s clock is %+.0f s off; decided on the bridge clock, the answer "
                "re-syncs the reader",
                state.config.id,
                skew,
            )
        return at

    def _deny(
        self, mapping: QRMapping, text: str, *, status: int = 200, now: datetime | None = None
    ) -> web.Response:
        assert self.host is not None
        doc = mapping.render(allow=False, text=text, now=now or self.host.clock.now())
        return web.json_response(doc, status=status)


def _ip(address: str) -> str | None:
    """The IP of ``ip``, ``ip:port`` or ``http://ip[:port]``; None for anything else."""
    host = address.split("://", 1)[-1].split("/", 1)[0]
    host = host.rsplit(":", 1)[0] if host.count(":") == 1 else host.strip("[]")
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


def _forged(request: web.Request, device: DeviceConfig) -> str:
    """Why this request is not the reader's own ("" when it is)."""
    expected = _ip(device.address) if device.address else None
    if expected is not None:
        peer = request.remote or ""
        try:
            ip = ipaddress.ip_address(peer)
            if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
                ip = ip.ipv4_mapped
            peer = str(ip)
        except ValueError:
            pass
        if peer != expected:
            return f"sent from {request.remote}, not {expected}"
    token = str(device.options.get("token") or "")
    sent = request.query.get("token", "")
    auth = request.headers.get("Authorization", "")
    if not sent and auth.startswith("Bearer "):
        sent = auth[7:].strip()
    if not token or not hmac.compare_digest(sent.encode(), token.encode()):
        return "wrong token" if sent else "no token"
    return ""

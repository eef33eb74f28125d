"""A small `DeviceHost` for testing device drivers without a venue bridge.

A driver author needs three things from the bridge: somebody to ask for a decision, a
ledger for decisions the device took alone, and a device registry. `RecordingHost`
provides them honestly — it decides from a table of valid values with per-value entry
counts, records device events once per ``(device, event_key)``, and serves the routes
drivers mount on a real aiohttp server — so a driver tested against it behaves the same
against the real bridge, which implements the same protocol.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from hub.clock import Clock, SystemClock
from hub.device_contracts import DeviceConfig
from hub.domain.gate import DeviceEvent, GateDecision, Scan
from hub.sdk.web.routing import ApiRoutes


@dataclass
class RecordingHost:
    """Implements `hub.sdk.DeviceHost`. `valid` maps a scanned value to the entries
    it still has; a decision uses one up."""

    http: aiohttp.ClientSession
    clock: Clock = field(default_factory=SystemClock)
    routes: ApiRoutes = field(default_factory=ApiRoutes)
    valid: dict[str, int] = field(default_factory=dict)
    devices: dict[str, DeviceConfig] = field(default_factory=dict)
    scans: list[tuple[Scan, GateDecision]] = field(default_factory=list)
    events: dict[tuple[str, str], DeviceEvent] = field(default_factory=dict)
    duplicates: int = 0
    base_url: str = ""

    async def decide(self, scan: Scan) -> GateDecision:
        left = self.valid.get(scan.value, 0)
        known = scan.device_id in self.devices
        allow = known and left > 0
        if allow:
            self.valid[scan.value] = left - 1
        code = "" if allow else ("UNKNOWN_DEVICE" if not known else "NOT_VALID")
        decision = GateDecision(
            id=uuid.uuid4().hex,
            allow=allow,
            code=code,
            reason="Welcome" if allow else "Not valid",
            ticket_id=scan.value if allow else None,
            entries_left=left - 1 if allow else None,
            decided_at=self.clock.now(),
        )
        self.scans.append((scan, decision))
        return decision

    async def device_event(self, event: DeviceEvent) -> bool:
        key = (event.device_id, event.event_key)
        if key in self.events:
            self.duplicates += 1
            return False
        self.events[key] = event
        return True

    def device(self, device_id: str) -> DeviceConfig | None:
        return self.devices.get(device_id)

    def device_by_serial(self, vendor: str, serial: str) -> DeviceConfig | None:
        return next(
            (d for d in self.devices.values() if d.vendor == vendor and d.serial == serial), None
        )

    def add(self, *devices: DeviceConfig) -> None:
        for d in devices:
            self.devices[d.id] = d

    def granted_events(self) -> list[DeviceEvent]:
        return [e for e in self.events.values() if e.granted]


@asynccontextmanager
async def running_host(
    mount: Iterable[object] = (), *, clock: Clock | None = None
) -> AsyncIterator[RecordingHost]:
    """A host whose drivers' routes are served on 127.0.0.1 (``host.base_url``).

    `mount` are drivers whose ``start(host)`` runs before the server starts (routes are
    fixed then, as in the bridge); they are stopped afterwards."""
    async with aiohttp.ClientSession() as http:
        host = RecordingHost(http=http, clock=clock or SystemClock())
        drivers = list(mount)
        for driver in drivers:
            await driver.start(host)  # type: ignore[attr-defined]
        app = web.Application()
        app.router.add_routes(host.routes.table)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        host.base_url = str(server.make_url("")).rstrip("/")
        try:
            yield host
        finally:
            for driver in drivers:
                await driver.stop()  # type: ignore[attr-defined]
            await server.close()


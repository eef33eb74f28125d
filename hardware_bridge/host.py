"""`BridgeHost`: what device drivers see of the bridge (`hub.sdk.DeviceHost`), and
the device registry with onboarding.

Onboarding follows the Home-Assistant flow staff expect: the driver's ``probe`` (the
connection test that reads the serial number), a duplicate serial refused, the device
stored, ``attach`` (events pointed at the bridge, clock set, backlog caught up), the
valid credentials pushed — all while the bridge runs; removing detaches it likewise.
Health per device (online, last seen, event lag, list version, last error) is kept in
memory, shown by ``/status`` and ``tickethub device list``, and reported to the hub with
every sync round and heartbeat (`hardware_bridge.health`).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiohttp

from hardware_bridge.decide import Decider
from hardware_bridge.devices import DeviceHealth, OnboardingError, config_of, describe
from hardware_bridge.faces import Dropped, FaceCache, device_plan
from hardware_bridge.store import BridgeStore, LogEntry
from hub.domain.digits import card_number
from hub.domain.gate import DeviceEvent, Direction, GateCredential, GateDecision, Medium, Scan
from hub.domain.masking import mask_scan
from hub.sdk import (
    Clock,
    DeviceAuthError,
    DeviceConfig,
    DeviceConfigError,
    DeviceDriver,
    DeviceError,
    DiscoveringDriver,
)
from hub.sdk.drivers import Background
from hub.sdk.web import ApiRoutes

log = logging.getLogger(__name__)
FORGED_EVENT = "FORGED_EVENT"
DEVICE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
_NOT_IN_ID = re.compile(r"[^A-Za-z0-9_.\-]+")


def default_device_id(vendor: str, serial: str) -> str:
    """``<vendor>-<serial>``: unique per device since serials are unique per vendor
    (characters an id cannot hold become ``-``; cut to the id's 64 characters)."""
    return f"{vendor}-{_NOT_IN_ID.sub('-', serial).strip('-')}"[:64].rstrip("-.")


@dataclass
class BridgeHost:
    """Implements `hub.sdk.DeviceHost` on the bridge's store and decider."""

    store: BridgeStore
    decider: Decider
    clock: Clock
    http: aiohttp.ClientSession
    drivers: Mapping[str, DeviceDriver]
    is_online: Callable[[], bool]
    on_logged: Callable[[], None] = lambda: None
    routes: ApiRoutes = field(default_factory=ApiRoutes)
    health: dict[str, DeviceHealth] = field(default_factory=dict)
    _devices: dict[str, DeviceConfig] = field(default_factory=dict)

    _pushes: Background = field(default_factory=lambda: Background("device list push", log))
    _used_up: set[str] = field(default_factory=set)  # waiting for `_push_used_up`

    def __post_init__(self) -> None:
        for row in self.store.devices():
            self._devices[row["id"]] = config_of(row)

    async def stop(self) -> None:
        """Wait out (cancel) the list pushes still in flight."""
        await self._pushes.close()

    def _used_up_here(self, ticket_id: str) -> None:
        """The ticket's last entry was just counted here: take it off every device that
        keeps its own list NOW, not after the next sync — otherwise a controller or face
        terminal would admit it again (offline for as long as the outage lasts). In the
        background: the gate's answer never waits."""
        if not self._keeps_lists():
            return
        first = not self._used_up
        self._used_up.add(ticket_id)
        if first:  # one push for all the tickets a busy moment used up
            self._pushes.spawn(self._push_used_up())

    def _keeps_lists(self) -> bool:
        """Some onboarded device may decide from a list of its own."""
        return any(
            getattr(self.drivers.get(d.vendor), "keeps_lists", True) for d in self._devices.values()
        )

    async def _push_used_up(self) -> None:
        await asyncio.sleep(0)  # let the scans already queued add theirs
        ids, self._used_up = sorted(self._used_up), set()
        await self.push_changed(ids)

    # -- DeviceHost ------------------------------------------------------------------------
    async def decide(self, scan: Scan, *, virtual: bool = False) -> GateDecision:
        """Decide a scan at an onboarded device — or, ``virtual``, at a gate the bridge
        serves itself (the handheld page's ``handheld-<staff>``), which has no device
        record: the same decision, log, counting and upload, no device health."""
        known = scan.device_id in self._devices
        decision = self.decider.decide(
            scan, self.clock.now(), offline=not self.is_online(), known_device=known or virtual
        )
        if (
            decision.allow
            and decision.ticket_id
            and scan.direction is Direction.IN
            and decision.entries_left == 0  # the decider counted it: no second lookup
        ):
            self._used_up_here(decision.ticket_id)
        if known:
            h = self.health_of(scan.device_id)
            h.last_seen = decision.decided_at
            h.scans += 1
        self.on_logged()
        return decision

    async def device_event(self, event: DeviceEvent) -> bool:
        """A device's own decision: logged once per (device, event_key), with the ticket
        it names when the bridge can tell, and its entry counted like a scan's.

        Drivers authenticate the device (`FORGED_EVENT` below is the bridge's own check,
        whatever the transport): a device can only have admitted a credential the bridge
        pushed to it. A "granted" event for anything else — a ticket never pushed to this
        device, a value naming no ticket — is somebody else's message, or a list the
        bridge does not control; it is logged as refused (``FORGED_EVENT``, counted in
        the device's health) and never counts as an entry. An event from a device that is
        not onboarded is not logged at all (False)."""
        now = self.clock.now()
        if event.device_id not in self._devices:
            log.warning("device event from unknown device %r refused", event.device_id[:64])
            return False
        ticket_id = self.ticket_of(event.medium, event.value)
        forged = event.granted and not (
            ticket_id and self.store.was_pushed(event.device_id, ticket_id)
        )
        allow = event.granted and not forged
        counted = allow and bool(ticket_id) and event.direction is Direction.IN
        key = hashlib.sha256(f"{event.device_id}\0{event.event_key}".encode()).hexdigest()[:40]
        if forged:
            code, reason = FORGED_EVENT, "granted by the device for a credential not pushed to it"
        else:
            code = "" if event.granted else "DEVICE_DENIED"
            reason = event.reason[:200]
        entry = LogEntry(
            id=f"ev-{key}",
            kind="device",
            ticket_id=ticket_id,
            device=event.device_id,
            gate=event.gate or self._gate(event.device_id),
            medium=event.medium.value,
            direction=event.direction.value,
            allow=allow,
            code=code,
            reason=reason,
            at=now,
            device_at=event.at,
            offline=not self.is_online(),
            event_key=event.event_key,
        )
        new = self.store.append(entry, count_day=self.decider.day(now) if counted else None)
        h = self.health_of(event.device_id)
        h.last_seen = now
        if event.at is not None:
            h.last_event_at = event.at
            h.event_lag_s = round((now - event.at).total_seconds(), 3)
        if new and forged:
            h.forged += 1
            log.warning(
                "device %s reported admitting %s, which the bridge never pushed to it: "
                "refused (FORGED_EVENT)",
                event.device_id,
                mask_scan(event.medium, event.value),
            )
        if new:
            h.events += 1
            self.on_logged()
            if counted and self.store.exhausted([ticket_id]):
                self._used_up_here(ticket_id)
        else:
            h.duplicates += 1
        return new

    def device(self, device_id: str) -> DeviceConfig | None:
        return self._devices.get(device_id)

    def device_by_serial(self, vendor: str, serial: str) -> DeviceConfig | None:
        return next(
            (d for d in self._devices.values() if d.vendor == vendor and d.serial == serial),
            None,
        )

    # -- registry and onboarding ------------------------------------------------------------
    def devices(self) -> list[DeviceConfig]:
        return sorted(self._devices.values(), key=lambda d: d.id)

    async def discover(self, vendor: str, timeout: float = 1.0) -> list[dict[str, Any]]:
        """Devices of one vendor answering on the LAN, each marked with the device id it
        is onboarded as (or None), so staff see at once which ones are still to add."""
        driver = self.drivers.get(vendor)
        if driver is None:
            raise OnboardingError(
                "UNKNOWN_VENDOR", f"No driver for {vendor!r}; installed: {sorted(self.drivers)}"
            )
        if not isinstance(driver, DiscoveringDriver):
            raise OnboardingError(
                "NO_DISCOVERY",
                f"{vendor} devices cannot be discovered (the protocol has no discovery); "
                "add them by address",
            )
        try:
            found = await driver.discover(timeout)
        except DeviceError as exc:
            raise OnboardingError("DEVICE_UNREACHABLE", str(exc)) from exc
        out = []
        for d in sorted(found, key=lambda d: d.serial):
            known = self.device_by_serial(vendor, d.serial)
            out.append(
                {
                    "serial": d.serial,
                    "address": d.address,
                    "model": d.model,
                    "firmware": d.firmware,
                    "onboarded_as": known.id if known else None,
                }
            )
        return out

    async def add_device(
        self,
        vendor: str,
        *,
        device_id: str = "",
        address: str = "",
        gate: str = "",
        serial: str = "",
        options: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Onboard one device. Without ``device_id`` the id is ``<vendor>-<serial>`` with
        the serial the DEVICE reported in the connection test (`default_device_id`), so
        two devices of one vendor added without an id never collide."""
        driver = self.drivers.get(vendor)
        if driver is None:
            raise OnboardingError(
                "UNKNOWN_VENDOR", f"No driver for {vendor!r}; installed: {sorted(self.drivers)}"
            )
        if device_id:
            self._check_new_id(device_id)
        config = DeviceConfig(
            id=device_id or "(onboarding)",  # without one, the id follows from the serial
            vendor=vendor,
            address=address,
            serial=serial,
            gate=gate,
            options=dict(options or {}),
        )
        try:
            info = await driver.probe(config)
        except DeviceAuthError as exc:
            raise OnboardingError("AUTH_FAILED", f"Connection test refused: {exc}") from exc
        except DeviceConfigError as exc:
            raise OnboardingError("INVALID_DEVICE_CONFIG", str(exc)) from exc
        except DeviceError as exc:
            raise OnboardingError("DEVICE_UNREACHABLE", f"Connection test failed: {exc}") from exc
        if serial and info.serial and serial != info.serial:
            raise OnboardingError(
                "SERIAL_MISMATCH", f"Device reports serial {info.serial}, not {serial}"
            )
        serial = info.serial or serial
        if not serial:
            raise OnboardingError("NO_SERIAL", "The device did not report a serial number")
        if self.device_by_serial(vendor, serial) is not None:
            raise OnboardingError(
                "DUPLICATE_SERIAL", f"A {vendor} device with serial {serial} is already onboarded"
            )
        if not device_id:
            device_id = default_device_id(vendor, serial)
            self._check_new_id(device_id)
        config = DeviceConfig(
            id=device_id,
            vendor=vendor,
            address=address,
            serial=serial,
            gate=gate,
            options=dict(options or {}),
        )
        self.store.add_device(
            {
                "id": device_id,
                "vendor": vendor,
                "address": address,
                "serial": serial,
                "gate": gate,
                "options": json.dumps(dict(options or {})),
                "model": info.model,
                "added_at": self.clock.now().isoformat(),
            }
        )
        self._devices[device_id] = config
        try:
            await driver.attach(config)
        except DeviceError as exc:
            self._devices.pop(device_id, None)
            self.store.remove_device(device_id)
            try:  # let the driver drop what it opened for this device (a UDP listener)
                await driver.detach(device_id)
            except Exception as detach_exc:
                log.warning("detach of %s after a failed attach: %s", device_id, detach_exc)
            code = (
                "AUTH_FAILED"
                if isinstance(exc, DeviceAuthError)
                else "INVALID_DEVICE_CONFIG"
                if isinstance(exc, DeviceConfigError)
                else "ATTACH_FAILED"
            )
            raise OnboardingError(code, f"Could not configure the device: {exc}") from exc
        h = self.health_of(device_id)
        h.last_seen = self.clock.now()
        pushed = await self.push_all(config)
        skew = round((info.clock - self.clock.now()).total_seconds(), 3) if info.clock else None
        return {
            "device": describe(config),
            "info": {"serial": info.serial, "model": info.model, "firmware": info.firmware},
            "clock_skew_s": skew,
            "pushed": pushed,
        }

    def _check_new_id(self, device_id: str) -> None:
        if not DEVICE_ID.fullmatch(device_id):
            raise OnboardingError("INVALID_REQUEST", "device id: letters, digits, _ . - (≤ 64)")
        if device_id in self._devices:
            raise OnboardingError("DUPLICATE_DEVICE", f"Device {device_id} already exists")

    async def remove_device(self, device_id: str) -> bool:
        config = self._devices.pop(device_id, None)
        if config is None:
            return False
        driver = self.drivers.get(config.vendor)
        if driver is not None:
            try:
                await driver.detach(device_id)
            except DeviceError as exc:
                log.warning("detach of %s failed: %s", device_id, exc)
        self.store.remove_device(device_id)
        self.health.pop(device_id, None)
        return True

    async def attach_all(self) -> None:
        """At start: serve every device onboarded before (no re-onboarding)."""
        for config in self.devices():
            driver = self.drivers.get(config.vendor)
            if driver is None:
                log.error("device %s: no %s driver installed", config.id, config.vendor)
                continue
            try:
                await driver.attach(config)
            except DeviceError as exc:
                log.warning("device %s not attached: %s", config.id, exc)
                h = self.health_of(config.id)
                h.online, h.last_error = False, f"not attached: {exc}"

    # -- credentials to devices that keep their own list -----------------------------------
    def credentials(self, rows: Sequence[Any]) -> list[GateCredential]:
        """Rows as devices hold them; a valid ticket carries its visitor's face photo when
        one was enrolled (drivers that match faces push it, the others ignore it). A ticket
        whose entries were used up here is revoked even before the hub knows it."""
        faces = FaceCache(self.store).jpegs(r["id"] for r in rows if r["state"] == "valid")
        used_up = self.store.exhausted(r["id"] for r in rows if r["state"] == "valid")
        out = []
        for r in rows:
            out.append(
                GateCredential(
                    ticket_id=r["id"],
                    valid_from=datetime.fromisoformat(r["valid_from"]),
                    valid_until=datetime.fromisoformat(r["valid_until"]),
                    entries_allowed=int(r["entries_allowed"]),
                    card_no=int(r["card_no"]),
                    qr=r["credential"] or None,
                    id_number=r["holder_id"],
                    face_jpeg=faces.get(r["id"]),
                    revoked=r["state"] != "valid" or r["id"] in used_up,
                )
            )
        return out

    async def faces_changed(
        self, fresh: list[str], replaced: list[str], dropped: list[Dropped]
    ) -> None:
        """Bring devices in line with the face cache after a sync (`faces.device_plan`)."""
        if not self._devices:
            return
        forget, push = device_plan(fresh, replaced, dropped)
        gone = [
            c.model_copy(update={"revoked": True, "face_jpeg": None})
            for c in self.credentials(self.store.tickets_by_ids(forget))
        ]
        current = self.credentials(self.store.tickets_by_ids(push))
        for config in self.devices():
            await self._push(config, gone)
            await self._push(config, current)

    async def push_all(self, config: DeviceConfig) -> int:
        rows = self.store.valid_tickets(self.clock.now().isoformat())
        return await self._push(config, self.credentials(rows))

    async def push_changed(self, ticket_ids: list[str]) -> None:
        if not self._devices:
            return
        creds = self.credentials(self.store.tickets_by_ids(ticket_ids))
        for config in self.devices():
            await self._push(config, creds)

    async def _push(self, config: DeviceConfig, creds: list[GateCredential]) -> int:
        driver = self.drivers.get(config.vendor)
        h = self.health_of(config.id)
        if driver is None or not creds:
            return 0
        if getattr(driver, "keeps_lists", True):
            # before the push: a device that got part of it may report any of it
            self.store.mark_pushed(config.id, (c.ticket_id for c in creds if not c.revoked))
        try:
            await driver.push_credentials(config, creds)
        except DeviceError as exc:
            h.push_error = str(exc)
            log.warning("push to %s failed: %s", config.id, exc)
            return 0
        h.push_error = ""
        h.pushed += len(creds)
        h.list_version = self.store.meta("cursor")
        return len(creds)

    async def open_door(self, device_id: str) -> None:
        config = self._devices.get(device_id)
        if config is None:
            raise OnboardingError("UNKNOWN_DEVICE", f"No device {device_id}")
        await self.drivers[config.vendor].open_door(config)

    # -- helpers ----------------------------------------------------------------------------
    def health_of(self, device_id: str) -> DeviceHealth:
        return self.health.setdefault(device_id, DeviceHealth())

    def _gate(self, device_id: str) -> str:
        config = self._devices.get(device_id)
        return config.gate if config else ""

    def ticket_of(self, medium: Medium, value: str) -> str:
        value = value.strip()
        row = None
        card = card_number(value)
        if card is not None:
            row = self.store.ticket_by_card(card)
        elif medium is Medium.ID_CARD:
            rows = self.store.tickets_of_holder(value.upper())
            row = rows[0] if rows else None
        elif medium is Medium.QR and value:
            row = self.store.ticket_by_credential(value)
        if row is None and len(value) == 16:
            row = self.store.ticket(value.lower())
        return str(row["id"]) if row is not None else ""

    def status(self) -> list[dict[str, Any]]:
        return [{**describe(d), "health": self.health_of(d.id).as_dict()} for d in self.devices()]

"""`BridgeHost`: what device drivers see of the bridge (`hub.sdk.DeviceHost`): scans
decided, device events logged and counted, credentials pushed to devices that keep a list.

The device registry and onboarding (probe, duplicate serial refused, attach, first push;
removal) are `hardware_bridge.onboarding`, mixed in here. Health per device (online,
last seen, event lag, list version, last error) is kept in memory, shown by ``/status``
and ``tickethub device list``, and reported to the hub with every sync round and
heartbeat (`hardware_bridge.health`).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiohttp

from hardware_bridge.decide import Decider
from hardware_bridge.devices import DeviceHealth, OnboardingError, config_of, describe
from hardware_bridge.faces import Dropped, FaceCache, device_plan
from hardware_bridge.onboarding import DeviceOnboarding
from hardware_bridge.store import BridgeStore, LogEntry
from hub.domain.digits import card_number
from hub.domain.gate import DeviceEvent, Direction, GateCredential, GateDecision, Medium, Scan
from hub.domain.masking import mask_scan
from hub.sdk import (
    Clock,
    DeviceConfig,
    DeviceDriver,
    DeviceError,
)
from hub.sdk.drivers import Background
from hub.sdk.web import ApiRoutes

log = logging.getLogger(__name__)
FORGED_EVENT = "FORGED_EVENT"


@dataclass
class BridgeHost(DeviceOnboarding):
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

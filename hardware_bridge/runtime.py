"""One running bridge: store, decider, hub link, device host and drivers, wired once.

`Bridge.open()` / `close()` bracket everything (also used in tests and benches without an
HTTP server); `hardware_bridge.app.create_app` serves it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import aiohttp

from hardware_bridge import health
from hardware_bridge.boxoffice.sales import BoxOffice, Sale
from hardware_bridge.boxoffice.sync import EmergencySync, revoke_cached
from hardware_bridge.decide import Decider, VenueView
from hardware_bridge.host import BridgeHost
from hardware_bridge.metrics import BridgeMetrics
from hardware_bridge.settings import BridgeSettings
from hardware_bridge.store import BridgeStore, LogEntry
from hardware_bridge.sync import HubLink
from hardware_bridge.transport import HubUnavailable
from hub.domain.gate import Direction, Medium, Scan
from hub.domain.rules import RuleEngine
from hub.sdk import Clock, DeviceDriver, SystemClock
from hub.sdk.runtime import HubPlugins, build_plugins

log = logging.getLogger(__name__)


class Bridge:
    def __init__(
        self,
        settings: BridgeSettings,
        http: aiohttp.ClientSession,
        *,
        clock: Clock | None = None,
        plugins: HubPlugins | None = None,
        drivers: Mapping[str, DeviceDriver] | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self.plugins = plugins or build_plugins(blocked=settings.blocked_plugins)
        self.store = BridgeStore(settings.db_path, synchronous=settings.synchronous)
        self.engine = RuleEngine(self.plugins.rules)
        self.decider = Decider(self.store, self.engine, settings.bridge_id)
        self.link = HubLink(
            self.store,
            http,
            self.clock,
            hub_url=settings.urls(),
            venue_id=settings.venue_id,
            token=settings.token,
            bridge_id=settings.bridge_id,
            batch=settings.sync_batch,
            timeout=settings.hub_timeout,
            heartbeat_timeout=settings.heartbeat_timeout,
            interval=settings.sync_interval,
            heartbeat_interval=settings.heartbeat_interval,
            failback_after=settings.failback_after,
            on_config=self._configure,
            on_tickets=self._tickets_changed,
            on_faces=lambda *changes: self.host.faces_changed(*changes),
            health=self.health_report,
            on_round=lambda seconds: self.metrics.sync_round.observe(seconds),
            before_push=lambda: self.emergency.push(),
            after_pull=lambda: self.emergency.pull(),
        )
        self.boxoffice = BoxOffice(
            self.store,
            settings.bridge_id,
            settings.venue_id,
            view=lambda: self.decider.view,
            is_online=lambda: self.link.state.online,
        )
        self.emergency = EmergencySync(self.boxoffice, self.link, self._reconfigure)
        self._checked_at: datetime | None = None
        self._checking = asyncio.Lock()
        if drivers is None:
            drivers = {entry.name: entry.obj() for entry in self.plugins.devices}
        self.host = BridgeHost(
            store=self.store,
            decider=self.decider,
            clock=self.clock,
            http=http,
            drivers=dict(drivers),
            is_online=lambda: self.link.state.online,
            on_logged=self.link.wake,
        )
        self.metrics = BridgeMetrics(self)
        cached = self.store.meta_json("config")
        if cached:  # a restart while the hub is down still decides from the cache
            self._configure(cached)

    def _configure(self, config: dict[str, Any]) -> None:
        self.decider.view = VenueView.from_config(config, self.engine, self.boxoffice.state())

    async def _reconfigure(self) -> None:
        """The trusted bridge keys changed (certified, revoked): rebuild the verifier, and
        revoke at the devices that keep their own lists the cached tickets signed with a
        revoked key (they never ask the verifier)."""
        cached = self.store.meta_json("config")
        if cached:
            self._configure(cached)
        revoked = revoke_cached(self.store, self.boxoffice.state().get("revoked", []))
        if revoked:
            await self.host.push_changed(revoked)

    async def emergency_sold(self, sale: Sale) -> None:
        """Cache a sale's tickets and push them to the devices that keep their own lists
        (a gate that never asks the bridge admits them too); sync soon."""
        view = self.decider.view
        if view is not None:
            for t in sale.tickets:
                claims = view.verifier.verify(t["credential"], self.clock.now())
                self.store.ensure_ticket(
                    {
                        "id": claims.ticket_id,
                        "product_id": claims.product_id,
                        "valid_from": claims.valid_from.isoformat(),
                        "valid_until": claims.valid_until.isoformat(),
                        "entries_allowed": claims.entries_allowed,
                        "credential": t["credential"],
                    }
                )
            await self.host.push_changed([t["id"] for t in sale.tickets])
        self.link.wake()

    async def _tickets_changed(self, ticket_ids: list[str]) -> None:
        await self.host.push_changed(ticket_ids)

    async def start_drivers(self) -> None:
        """Drivers open their listeners and mount their routes on ``host.routes`` (before
        the bridge's HTTP app is frozen)."""
        for driver in self.host.drivers.values():
            await driver.start(self.host)

    async def start(self, *, sync: bool = True) -> None:
        """Attach the devices onboarded before, then sync once and keep syncing."""
        await self.host.attach_all()
        if sync:
            try:
                await self.link.pull_config()
                await self.link.sync_once()
            except HubUnavailable as exc:
                log.warning("starting OFFLINE (%s); deciding from the cache", exc)
            self.link.start(self.settings.sync_interval)

    async def stop(self) -> None:
        await self.link.stop()
        await self.host.stop()
        for driver in self.host.drivers.values():
            try:
                await driver.stop()
            except Exception:
                log.exception("driver %s did not stop cleanly", driver.vendor)

    def close(self) -> None:
        self.store.close()

    # -- staff ----------------------------------------------------------------------------
    def manual_admission(
        self,
        *,
        staff: str,
        reason: str,
        gate: str = "",
        ticket: str = "",
        medium: Medium = Medium.QR,
        direction: Direction = Direction.IN,
        device_id: str = "",
        count: int = 1,
    ) -> dict[str, Any]:
        """Staff let someone through by hand: logged with who and why (and the ticket,
        when one was shown, so its entry counts), synced like any decision.

        Every admission IN counts through the same entry counting as a gate's
        (`BridgeStore.append` with its day), with or without a ticket, so the in-park
        figure includes people let in without one. ``count`` people let in together
        without a ticket are ``count`` rows: each is one person at the hub too.

        :raises ValueError: ``count`` other than 1 with a ticket (a ticket is one entry).
        """
        if count < 1 or (ticket and count != 1):
            raise ValueError("count: at least 1, and exactly 1 with a ticket")
        now = self.clock.now()
        ticket_id = ""
        if ticket:
            ticket_id = self.host.ticket_of(medium, ticket)
            if not ticket_id and ticket.startswith("TH1.") and self.decider.view is not None:
                try:
                    ticket_id = self.decider.view.verifier.verify(ticket, now).ticket_id
                except Exception:
                    ticket_id = ""
        counted = direction is Direction.IN
        ids: list[str] = []
        for _ in range(count):
            entry = LogEntry(
                id=self.decider.new_id(),
                kind="manual",
                ticket_id=ticket_id,
                device=device_id,
                gate=gate,
                medium=medium.value,
                direction=direction.value,
                allow=True,
                code="MANUAL",
                reason="Admitted by staff",
                at=now,
                device_at=None,
                offline=not self.link.state.online,
                staff=staff,
                note=reason[:200],
            )
            self.store.append(entry, count_day=self.decider.day(now) if counted else None)
            ids.append(entry.id)
        self.link.wake()
        return {
            "id": ids[0],
            "ids": ids,
            "count": len(ids),
            "ticket_id": ticket_id or None,
            "at": now.isoformat(),
            "offline": not self.link.state.online,
        }

    def admitted_today(self) -> int:
        """Admissions counted today (venue-local) at this bridge, staff ones included."""
        return self.store.admitted_on(self.decider.day(self.clock.now()))

    # -- status ---------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        s = self.link.state
        view = self.decider.view
        return {
            "bridge": self.settings.bridge_id,
            "venue": self.settings.venue_id,
            "mode": "online" if s.online else "offline",
            "configured": view is not None,
            "last_sync": _iso(s.last_ok),
            "last_error": s.last_error,
            "link": self.link.links.status(),
            "hub_clock_skew_s": s.hub_time_skew_s,
            "cursor": self.store.meta("cursor"),
            "tickets_cached": self.store.ticket_count(),
            "log": self.store.log_counts(),
            "sync": {
                "uploaded": s.uploaded,
                "duplicates": s.duplicates,
                "conflicts": s.conflicts,
                "pulled": s.pulled,
                "round_trips": s.round_trips,
                "failures": s.failures,
                "heartbeats": s.heartbeats,
            },
            "switches": [{"at": at, "online": on} for at, on in s.history],
            "devices": self.host.status(),
            "emergency": self.emergency_status(),
        }

    def emergency_status(self) -> dict[str, Any]:
        """The box office: the key staff certify at the hub, its certificate, the
        allotments and the orders by state (pending = not yet at the hub)."""
        cert = self.boxoffice.certificate(self.clock.now())
        return {
            "public_key": self.boxoffice.public_key,
            "key_id": cert.key_id if cert else None,
            "key_valid_until": cert.valid_until.isoformat() if cert else None,
            "allotments": self.boxoffice.allotments(),
            "orders": self.boxoffice.counts(),
        }

    async def health_report(self) -> dict[str, Any]:
        """What every heartbeat and sync round tells the hub of this bridge: the link it
        syncs through, its backlog and its devices. The devices whose driver can be asked
        are asked every ``device_check_seconds`` of the bridge's clock, and once as soon
        as they are onboarded."""
        async with self._checking:
            now = self.clock.now()
            every = self.settings.device_check_seconds
            if self._checked_at is None or (now - self._checked_at).total_seconds() >= every:
                self._checked_at = now
                await health.check_devices(self.host)
            else:
                await health.check_devices(self.host, unchecked_only=True)
        links = self.link.links
        return {
            "link": links.url,
            "link_index": links.active,
            "pending_uploads": self.store.unsynced_count(),
            "devices": health.devices(self.host),
        }

    async def scan(self, scans: Iterable[Scan]) -> list[Any]:
        return [await self.host.decide(s) for s in scans]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None

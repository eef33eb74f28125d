"""The device-driver conformance kit: what every entrance-device driver must do, checked
the same way for every vendor, built-in or third-party, as a pytest class to subclass::

    from hub.testing.conformance.devices import DeviceConformanceSuite

    class TestConformance(DeviceConformanceSuite):
        rig = MyVendorRig()

The kit never learns the vendor's protocol: a `DeviceRig` (written once per vendor, next
to its simulator) builds the driver and a `SimulatedDevice` that speaks the real wire
protocol, and the kit drives both around a `hub.testing.device_host.RecordingHost` — the
same `DeviceHost` protocol the venue bridge implements. The host starts with NO valid
values: anything the device admits it admitted from the list the driver pushed, unless a
check says otherwise.

The checks:

onboarding
    the plugin registers the driver for its vendor through its entry point; the driver
    follows `hub.DeviceDriver`; ``probe`` reads the device's serial; a configuration that
    cannot work is refused with a `hub.DeviceError` (words for staff), never a crash.
list push
    pushed credentials admit at the device, revoked and never-pushed ones do not — with
    the device deciding alone, so the list is all it has (skipped, with the reason, for a
    driver whose ``keeps_lists`` is False: its devices ask for every scan).
event decoding
    a presentation reaches the host as a `hub.Scan` or `hub.DeviceEvent` of the onboarded
    device id, its gate, the rig's medium and the presented value, granted or not as the
    device decided.
offline behaviour
    while the bridge is away the device decides from its list; back, each decision it took
    arrives exactly once, however often the device or the driver sends it again.
refusal of forged events
    a "granted" report or a scan sent by anyone but the device (no or wrong credentials,
    another address, an invented record) is refused before it counts: no event, no
    decision, the visitor's entry untouched — and the real device is still heard after.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib.metadata import entry_points
from typing import ClassVar

import pytest

from hub.sdk import (
    DeviceConfig,
    DeviceDriver,
    DeviceDriverRegistry,
    DeviceError,
    GateCredential,
    Medium,
)
from hub.testing.device_host import RecordingHost, running_host

ENTRY_POINT_GROUP = "tickethub"


class SimulatedDevice(ABC):
    """One simulated device for one check, speaking its vendor's real protocol.

    Required: `start`, `close`, `config`, `unservable`, `present`, `forge`. Override
    `value`, `settle`, `go_offline` and `come_back` as the device's protocol needs.
    ``medium`` is set by the kit from the rig's."""

    medium: Medium = Medium.CARD

    @abstractmethod
    async def start(self, host: RecordingHost, driver: DeviceDriver) -> None:
        """Start the simulator; the host already serves the driver's routes on
        ``host.base_url``. Do what the device does before staff onboard it (a push device
        says hello, an MQTT gate connects to its broker)."""

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    def config(self) -> DeviceConfig:
        """The device as staff onboard it (its serial, gate and the options it needs)."""

    @abstractmethod
    def unservable(self) -> DeviceConfig:
        """A configuration of this device that cannot work (a wrong password, a secret
        too short, a serial of the wrong form): ``probe`` must refuse it with a
        `DeviceError`."""

    def value(self, credential: GateCredential) -> str:
        """What a visitor presents for ``credential`` and the driver reports as the
        scanned value: its QR code for QR devices, its card number otherwise."""
        if self.medium is Medium.QR:
            return str(credential.qr)
        return str(credential.card_no)

    @abstractmethod
    async def present(self, value: str) -> bool:
        """A visitor presents ``value`` at the device; True when the gate opened."""

    async def settle(self) -> None:
        """Wait (bounded) until what the device sent and what the driver pushed has
        arrived: live events delivered, a pushed list applied, a backlog uploaded.
        Default: nothing to wait for (the device reports while it presents)."""
        return None

    async def go_offline(self) -> None:
        """The link between the device and the bridge breaks; the device goes on."""
        raise NotImplementedError(f"{type(self).__name__}: go_offline (or set no_offline)")

    async def come_back(self) -> None:
        """The link returns: the device (or the driver catching up) sends what it decided
        meanwhile. Called twice in a row by the offline check: the second time must add
        nothing new."""
        raise NotImplementedError(f"{type(self).__name__}: come_back (or set no_offline)")

    @abstractmethod
    async def forge(self, value: str) -> None:
        """Report ``value`` as admitted (or ask for it to be decided) as somebody who is
        not the device would: without its credentials, from another address, a record
        its own log does not hold. Whatever the driver answers, return normally."""


class DeviceRig(ABC):
    """One vendor for the kit: its plugin's entry-point name, the driver and a device.

    ``medium``: what the device reports presentations as. ``no_offline``: a reason, for a
    device that cannot decide without the bridge; the offline check is then SKIPPED with
    it (a skip, not a pass). A driver with ``keeps_lists = False`` skips the list check."""

    vendor: ClassVar[str]
    plugin: ClassVar[str]
    medium: ClassVar[Medium] = Medium.CARD
    no_offline: ClassVar[str] = ""

    @abstractmethod
    def driver(self) -> DeviceDriver:
        """A fresh driver, configured for loopback (ports of the kernel's choosing)."""

    @abstractmethod
    def device(self) -> SimulatedDevice:
        """A fresh simulated device (its ``medium`` attribute set to ``self.medium``)."""


@dataclass
class Site:
    """One check's world: the host, the driver and the device."""

    host: RecordingHost
    driver: DeviceDriver
    device: SimulatedDevice
    config: DeviceConfig

    async def onboard(self) -> None:
        """As the bridge onboards: known to the host, probed, attached."""
        self.host.add(self.config)
        info = await self.driver.probe(self.config)
        assert info.serial == self.config.serial, (info, self.config)
        await self.driver.attach(self.config)

    async def push(self, *credentials: GateCredential) -> None:
        await self.driver.push_credentials(self.config, list(credentials))
        await self.device.settle()

    def reports(self) -> list[tuple[str, bool]]:
        """(value, granted) of everything the host heard from this device, in order:
        scans it was asked to decide and events the device decided itself."""
        scans = [(s.value, d.allow) for s, d in self.host.scans if s.device_id == self.config.id]
        events = [
            (e.value, e.granted) for e in self.host.events.values() if e.device_id == self.config.id
        ]
        return scans + events


_serial = 0


def credential(*, revoked: bool = False, entries: int = 3) -> GateCredential:
    """A credential valid from an hour ago to tomorrow, with a card number and a QR code
    unique within the process (several checks share one simulated vendor)."""
    global _serial
    _serial += 1
    now = datetime.now(UTC)
    return GateCredential(
        ticket_id=f"ck-{_serial}",
        valid_from=now - timedelta(hours=1),
        valid_until=now + timedelta(days=1),
        entries_allowed=entries,
        card_no=70_000 + _serial,
        qr=f"TH1.conformance-{_serial}",
        revoked=revoked,
    )


class DeviceConformanceSuite:
    """Subclass with ``rig = <DeviceRig>``; pytest collects the ``test_*`` methods."""

    rig: ClassVar[DeviceRig]

    @asynccontextmanager
    async def site(self) -> AsyncIterator[Site]:
        driver = self.rig.driver()
        device = self.rig.device()
        device.medium = self.rig.medium
        async with running_host([driver]) as host:
            await device.start(host, driver)
            try:
                yield Site(host, driver, device, device.config())
            finally:
                await device.close()

    def _keeps_lists(self, site: Site) -> bool:
        return bool(getattr(site.driver, "keeps_lists", True))

    # -- onboarding ---------------------------------------------------------------------
    def test_the_plugin_registers_the_driver_for_its_vendor(self) -> None:
        found = [e for e in entry_points(group=ENTRY_POINT_GROUP) if e.name == self.rig.plugin]
        assert found, f"no entry point {self.rig.plugin!r} in group {ENTRY_POINT_GROUP!r}"
        registry = DeviceDriverRegistry()
        found[0].load().register_device_drivers(registry=registry)
        assert self.rig.vendor in registry, registry.names()
        assert callable(registry.get(self.rig.vendor))
        driver = self.rig.driver()
        assert isinstance(driver, DeviceDriver), "the driver must follow hub.DeviceDriver"
        assert driver.vendor == self.rig.vendor

    async def test_onboarding_reads_the_serial_and_refuses_what_cannot_work(self) -> None:
        async with self.site() as site:
            with pytest.raises(DeviceError) as refused:
                await site.driver.probe(site.device.unservable())
            assert str(refused.value).strip(), "a refusal must say what staff should fix"
            await site.onboard()  # asserts the serial read back

    # -- list push ----------------------------------------------------------------------
    async def test_pushed_credentials_admit_and_revoked_or_unknown_ones_do_not(self) -> None:
        async with self.site() as site:
            if not self._keeps_lists(site):
                pytest.skip(f"{self.rig.vendor} devices keep no list (keeps_lists = False)")
            await site.onboard()
            kept, revoked, unknown = credential(), credential(), credential()
            await site.push(kept, revoked)
            await site.push(revoked.model_copy(update={"revoked": True}))
            await site.device.go_offline()  # the list is all the device has
            value = site.device.value
            assert await site.device.present(value(kept)), "a pushed credential must admit"
            assert not await site.device.present(value(revoked)), "a revoked one must not"
            assert not await site.device.present(value(unknown)), "a never-pushed one must not"
            await site.device.come_back()

    # -- event decoding -----------------------------------------------------------------
    async def test_a_presentation_reaches_the_host_as_the_device_saw_it(self) -> None:
        async with self.site() as site:
            await site.onboard()
            good, stranger = credential(), credential()
            if self._keeps_lists(site):
                await site.push(good)
            value = site.device.value
            site.host.valid[value(good)] = 1  # for devices that ask the bridge
            assert await site.device.present(value(good))
            assert not await site.device.present(value(stranger))
            await site.device.settle()
            assert sorted(site.reports()) == sorted(
                [(value(good), True), (value(stranger), False)]
            ), site.reports()
            heard = [s for s, _ in site.host.scans] + list(site.host.events.values())
            for report in heard:
                assert report.device_id == site.config.id, report
                assert report.gate == site.config.gate, report
                assert report.medium is self.rig.medium, report
            for event in site.host.events.values():
                assert event.at is not None and event.at.tzinfo is not None, event

    # -- offline behaviour --------------------------------------------------------------
    async def test_offline_the_device_decides_alone_and_reports_each_decision_once(
        self,
    ) -> None:
        if self.rig.no_offline:
            pytest.skip(f"{self.rig.vendor}: {self.rig.no_offline}")
        async with self.site() as site:
            if not self._keeps_lists(site):
                pytest.skip(f"{self.rig.vendor} devices keep no list: nothing decides offline")
            await site.onboard()
            good, stranger = credential(), credential()
            await site.push(good)
            await site.device.go_offline()
            value = site.device.value
            assert await site.device.present(value(good))
            assert not await site.device.present(value(stranger))
            assert site.reports() == [], "nothing can reach the host while it is away"
            await site.device.come_back()
            await site.device.settle()
            expected = sorted([(value(good), True), (value(stranger), False)])
            assert sorted(site.reports()) == expected, site.reports()
            await site.device.come_back()  # sent again (a lost acknowledgement, a re-read)
            await site.device.settle()
            assert sorted(site.reports()) == expected, "a decision must count once"

    # -- forged events ------------------------------------------------------------------
    async def test_a_forged_report_is_refused_and_the_device_is_still_heard(self) -> None:
        async with self.site() as site:
            await site.onboard()
            visitor = credential()
            if self._keeps_lists(site):
                await site.push(visitor)
            value = site.device.value(visitor)
            site.host.valid[value] = 1
            await site.device.forge(value)
            await site.device.settle()
            assert site.reports() == [], f"a forged report counted: {site.reports()}"
            assert site.host.valid[value] == 1, "a forged report used up an entry"
            assert await site.device.present(value), "the device itself must still admit"
            await site.device.settle()
            assert site.reports() == [(value, True)], site.reports()

"""What a device driver implements and is handed: the Protocols behind the driver registry.

The venue bridge hosts the drivers (`DeviceHost`), not the hub, and none of this is about
sales channels, payments or the order service, so the device side of the plugin contract
lives apart from `hub.contracts`. Plugins reach both through `hub.sdk`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import aiohttp

    from hub.clock import Clock
    from hub.domain.gate import DeviceEvent, GateCredential, GateDecision, Scan
    from hub.sdk.web.routing import ApiRoutes


@dataclass(frozen=True, slots=True)
class DeviceConfig:
    """One onboarded device, as staff entered it. `options` holds what differs per vendor
    (credentials, a field mapping, topics); drivers validate it in `probe`."""

    id: str
    vendor: str
    address: str = ""  # host[:port] or base URL; "" for devices that call us (ZKTeco push)
    serial: str = ""
    gate: str = ""
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """What a connection test read off the device (onboarding and health)."""

    serial: str
    model: str = ""
    firmware: str = ""
    clock: datetime | None = None  # the device's own time, to measure skew


@runtime_checkable
class DeviceHost(Protocol):
    """What the venue bridge offers its drivers. A driver never decides by itself: it
    turns a vendor message into a `Scan` and asks the host, or reports a `DeviceEvent`
    a device decided from its own list."""

    clock: Clock
    routes: ApiRoutes  # the bridge's HTTP app, for drivers that receive (events, push)
    http: aiohttp.ClientSession

    async def decide(self, scan: Scan) -> GateDecision:
        """Decide online/offline (same rule engine as the hub); logged before returning."""
        ...

    async def device_event(self, event: DeviceEvent) -> bool:
        """Record a device's own decision once per (device, event_key); False = duplicate."""
        ...

    def device(self, device_id: str) -> DeviceConfig | None:
        """The onboarded device with this id (unknown devices are refused)."""
        ...

    def device_by_serial(self, vendor: str, serial: str) -> DeviceConfig | None:
        """For protocols that identify devices only by serial (ZKTeco push, UHPPOTE)."""
        ...


@runtime_checkable
class DeviceDriver(Protocol):
    """A family of entrance devices (one vendor protocol). Lives in the venue bridge.

    Devices are attached and detached while the bridge runs (onboarding without
    restarts); `start` opens what the vendor needs once (a UDP listener, HTTP routes on
    ``host.routes`` — mounted before the bridge's app starts —, an MQTT subscription)."""

    vendor: str

    async def start(self, host: DeviceHost) -> None:
        """Open listeners; called once when the bridge starts."""
        ...

    async def stop(self) -> None: ...

    async def probe(self, device: DeviceConfig) -> DeviceInfo:
        """Connection test for onboarding: reach the device and read its serial number.
        Raise `DeviceError` with a message staff can act on."""
        ...

    async def attach(self, device: DeviceConfig) -> None:
        """Begin serving an onboarded device: point its events at the bridge, sync its
        clock, catch up on events it stored while nobody listened."""
        ...

    async def detach(self, device_id: str) -> None: ...

    async def push_credentials(
        self, device: DeviceConfig, credentials: Sequence[GateCredential]
    ) -> None:
        """Bring a device that keeps its own list up to date (adds, changes, revocations).
        Devices that ask online for every scan ignore this; a driver none of whose
        devices ever keeps a list says so with a class attribute ``keeps_lists = False``
        (absent means True), which spares the bridge pushing it every used-up ticket."""
        ...

    async def open_door(self, device: DeviceConfig, door: int = 1) -> None:
        """Remote open (staff manual admission)."""
        ...


DriverFactory = Callable[[], DeviceDriver]
"""What ``register_device_drivers`` adds under a vendor name: called once per bridge to
build that vendor's driver (usually the driver class itself)."""


@dataclass(frozen=True, slots=True)
class DiscoveredDevice:
    """A device that answered a discovery request (staff pick one to onboard)."""

    serial: str
    address: str  # where to reach it: pass as ``--address`` to onboard it
    model: str = ""
    firmware: str = ""


@runtime_checkable
class DiscoveringDriver(Protocol):
    """A driver whose protocol can find devices on the LAN (UHPPOTE's UDP broadcast).
    Optional: the bridge offers discovery only for drivers that implement it."""

    async def discover(self, timeout: float = 1.0) -> Sequence[DiscoveredDevice]:
        """Devices that answered within ``timeout`` seconds (none is not an error)."""
        ...


@runtime_checkable
class CheckingDriver(Protocol):
    """A driver that can ask a device whether it is there (UHPPOTE's get-status).
    Optional: the bridge reports a device of a driver without it as online while its
    pushes land and its last contact is recent, and as "cannot tell" otherwise (a QR
    reader that only speaks when scanned)."""

    async def check(self, device: DeviceConfig) -> None:
        """A cheap liveness probe of one attached device, bounded by the driver's
        timeout; raise `DeviceError` (the message is for staff) when it does not answer."""
        ...


class DeviceError(Exception):
    """A device could not be reached or refused a command; the message is for staff."""


class DeviceAuthError(DeviceError):
    """The device answered but refused the credentials staff entered (HTTP 401/403, a
    wrong password, a user without the rights): onboarding reports ``AUTH_FAILED``, so
    staff fix the password instead of checking cables."""


class DeviceConfigError(DeviceError):
    """What staff entered cannot work whatever the device answers (a missing or too
    short option, an address the driver needs, a serial of the wrong form): onboarding
    reports ``INVALID_DEVICE_CONFIG``, so staff fix the command instead of the network."""

"""Onboarding and the device registry of the bridge: add, discover, remove, re-attach.

Onboarding follows the Home-Assistant flow staff expect: the driver's ``probe`` (the
connection test that reads the serial number), a duplicate serial refused, the device
stored, ``attach`` (events pointed at the bridge, clock set, backlog caught up), the
valid credentials pushed — all while the bridge runs; removing detaches it likewise.
Staff drive it (``tickethub device add``, the bridge's HTTP API); the drivers never see
it. `BridgeHost` (`hardware_bridge.host`), which serves the drivers, mixes it in, so
the scan path and the onboarding flow each sit in a file of their own.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from hardware_bridge.devices import DeviceHealth, OnboardingError, describe
from hardware_bridge.store import BridgeStore
from hub.sdk import (
    Clock,
    DeviceAuthError,
    DeviceConfig,
    DeviceConfigError,
    DeviceDriver,
    DeviceError,
    DiscoveringDriver,
)

log = logging.getLogger(__name__)
DEVICE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
_NOT_IN_ID = re.compile(r"[^A-Za-z0-9_.\-]+")


def default_device_id(vendor: str, serial: str) -> str:
    """``<vendor>-<serial>``: unique per device since serials are unique per vendor
    (characters an id cannot hold become ``-``; cut to the id's 64 characters)."""
    return f"{vendor}-{_NOT_IN_ID.sub('-', serial).strip('-')}"[:64].rstrip("-.")


class DeviceOnboarding:
    """The registry and onboarding half of `BridgeHost` (a mixin: it works on the host's
    store, drivers, clock, device table and health)."""

    store: BridgeStore
    clock: Clock
    drivers: Mapping[str, DeviceDriver]
    health: dict[str, DeviceHealth]
    _devices: dict[str, DeviceConfig]

    if TYPE_CHECKING:  # provided by `BridgeHost`

        def device_by_serial(self, vendor: str, serial: str) -> DeviceConfig | None: ...

        def health_of(self, device_id: str) -> DeviceHealth: ...

        async def push_all(self, config: DeviceConfig) -> int: ...

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

"""ZKTeco access and attendance terminals over the push protocol (ADMS / iclock).

The terminals keep their own user list and call the bridge over HTTP; see `driver`.
Options per device (``tickethub device add zkteco --serial … --option tz_hours=8``):
``tz_hours`` — the device's local time offset (its logs carry local time)."""

from __future__ import annotations

from hub import hookimpl
from hub.registries import DeviceDriverRegistry
from plugins.device_zkteco.driver import ZKTecoDriver

__version__ = "0.1.0"


@hookimpl
def register_device_drivers(registry: DeviceDriverRegistry) -> None:
    registry.add(ZKTecoDriver.vendor, ZKTecoDriver)

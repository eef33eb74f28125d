"""ZKTeco access and attendance terminals over the push protocol (ADMS / iclock).

The terminals keep their own user list and call the bridge over HTTP; see `driver`.
Onboarding: ``tickethub device add zkteco --serial … --address <its IP>`` — requests are
answered only for that serial from that address. Options: ``tz_hours`` — the device's
local time offset (its logs carry local time)."""

from __future__ import annotations

from hub.sdk import DeviceDriverRegistry, hookimpl
from plugins.device_zkteco.driver import ZKTecoDriver

__version__ = "0.1.0"


@hookimpl
def register_device_drivers(registry: DeviceDriverRegistry) -> None:
    registry.add(ZKTecoDriver.vendor, ZKTecoDriver)

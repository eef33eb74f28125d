"""Hikvision ISAPI face and access terminals (Digest auth, events, remote verification)."""

from __future__ import annotations

from hub.sdk import DeviceDriverRegistry, hookimpl
from plugins.device_hikvision.driver import HikvisionDriver

__version__ = "0.1.0"


@hookimpl
def register_device_drivers(registry: DeviceDriverRegistry) -> None:
    registry.add(HikvisionDriver.vendor, HikvisionDriver)

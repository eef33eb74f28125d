"""UHPPOTE / WG-type access controllers (UDP), through the `uhppoted` library.

Tickets are pushed as cards with validity windows, events arrive on a UDP listener and
are caught up by event index after an outage, doors open remotely; see `driver`.
Device options: ``tz_hours`` (controller local time, default 8), ``doors`` (doors a
ticket opens, default ``[1, 2, 3, 4]``), ``gates`` (door number → gate name),
``listener`` (``ip:port`` the controller sends events to, if not the driver's),
``time_profiles`` (default true: a single-day ticket opens only within its hours)."""

from __future__ import annotations

from hub.sdk import DeviceDriverRegistry, hookimpl
from plugins.device_uhppote.driver import UhppoteDriver

__version__ = "0.1.0"


@hookimpl
def register_device_drivers(registry: DeviceDriverRegistry) -> None:
    registry.add(UhppoteDriver.vendor, UhppoteDriver)

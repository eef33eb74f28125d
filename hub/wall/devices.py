"""The wall's devices as the bridges report them (`hub.alerts.health`).

`hub.wall.snapshot.build` takes a `DeviceSource`; this one gives each device of the venue
as `hub.alerts.health.devices` reads it — online, last seen, event lag, list version,
last error, offline since — the same rows the devices page and the ``device_offline``
rule use. A health report also moves the bridge's ``bridge_seen`` time, which
`hub.wall.snapshot.version` reads, so a device going offline wakes the open walls.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from hub.alerts import health
from hub.wall.snapshot import DeviceSource


def reported(now: Callable[[], datetime]) -> DeviceSource:
    """A device source reading the bridges' health reports (``now``: the hub's clock,
    for how long an offline device has been offline)."""

    async def devices(conn: AsyncConnection, venue_id: str) -> list[dict[str, Any]]:
        return await health.devices(conn, now(), venue_id)

    return devices

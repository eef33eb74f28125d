"""The bridge's health as it reports it to the hub with every sync round and heartbeat:
the hub URL it syncs through, the decisions not yet uploaded, and each device — online,
last seen, event lag, the list version pushed to it, last error
(`hub.alerts.health.HeartbeatIn` is the hub's side).

Online comes from the driver where it can ask the device (`hub.sdk.CheckingDriver`,
e.g. UHPPOTE's get-status, asked every ``device_check_seconds`` and as soon as it is
onboarded); for the others
the bridge says offline when the last push failed, online while the last contact is
recent, and "cannot tell" (None) after — a QR reader that nobody scanned for an hour is
not known to be broken."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from hardware_bridge.devices import DeviceHealth
from hub.sdk import CheckingDriver, DeviceConfig, DeviceError

if TYPE_CHECKING:
    from hardware_bridge.host import BridgeHost

log = logging.getLogger(__name__)
SILENT_AFTER = timedelta(minutes=5)


async def check_devices(host: BridgeHost, *, unchecked_only: bool = False) -> None:
    """Ask every device whose driver can tell whether it is there (only those never
    asked yet with `unchecked_only`: a device just onboarded), all at once, each bounded
    by its driver's own timeout."""

    async def one(config: DeviceConfig) -> None:
        h = host.health_of(config.id)
        driver = host.drivers.get(config.vendor)
        if driver is None:
            h.online, h.last_error = False, f"no {config.vendor} driver installed"
            return
        if not isinstance(driver, CheckingDriver):
            return
        try:
            await driver.check(config)
        except DeviceError as exc:
            if h.online is not False:
                log.warning("device %s is offline: %s", config.id, exc)
            h.online, h.last_error = False, str(exc)[:500]
        except Exception as exc:  # a driver's bug must not stop the report
            log.exception("device %s: check failed", config.id)
            h.online, h.last_error = False, f"check failed: {exc}"[:500]
        else:
            if h.online is False:
                log.warning("device %s is back online", config.id)
            h.online, h.last_error = True, ""
            h.last_seen = host.clock.now()

    configs = host.devices()
    if unchecked_only:
        configs = [c for c in configs if host.health_of(c.id).online is None]
    await asyncio.gather(*(one(c) for c in configs))


def online(host: BridgeHost, config: DeviceConfig, h: DeviceHealth) -> bool | None:
    """A checking driver's answer (or a failed attach); otherwise offline when the last
    push failed, online while the last contact is recent, None (cannot tell) after."""
    driver = host.drivers.get(config.vendor)
    if driver is None or isinstance(driver, CheckingDriver) or h.online is False:
        return h.online
    if h.push_error:
        return False
    if h.last_seen is not None and host.clock.now() - h.last_seen <= SILENT_AFTER:
        return True
    return None


def devices(host: BridgeHost) -> list[dict[str, Any]]:
    """Each device as the hub stores it (`hub.alerts.health.DeviceHealthIn`)."""
    out = []
    for config in host.devices():
        h = host.health_of(config.id)
        out.append(
            {
                "id": config.id,
                "vendor": config.vendor,
                "gate": config.gate,
                "online": online(host, config, h),
                "last_seen": h.last_seen.isoformat() if h.last_seen else None,
                "event_lag_s": h.event_lag_s,
                "list_version": h.list_version,
                "last_error": (h.last_error or h.push_error)[:500],
            }
        )
    return out

"""Calls to a controller through the `uhppoted` client, with the library's failures
(timeouts, socket errors, undecodable answers, silence) turned into `DeviceError`s whose
message staff can act on."""

from __future__ import annotations

from ipaddress import IPv4Address
from typing import Any

from hub.sdk import DeviceConfig, DeviceConfigError, DeviceError


def ip_of(address: str) -> str:
    """The IPv4 address of ``ip[:port]``; "" for a hostname or nothing (not checked)."""
    host = address.rpartition(":")[0] if ":" in address else address
    try:
        return str(IPv4Address(host))
    except ValueError:
        return ""


class ControllerCalls:
    """Every request goes through `call` (``fn`` is a bound `UhppoteAsync` method)."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout

    def target(self, device: DeviceConfig) -> tuple[int, str | None, str]:
        serial = device.serial.strip()
        if serial and not (serial.isascii() and serial.isdigit() and 0 < int(serial) <= 0xFFFFFFFF):
            raise DeviceConfigError(
                f"a UHPPOTE serial is a number (e.g. 423187757), not {serial!r}"
            )
        return (int(serial or 0), device.address or None, "udp")

    async def call(self, device: DeviceConfig, what: str, fn: Any, *args: Any) -> Any:
        """One library call, with the library's failures turned into words for staff."""
        try:
            reply = await fn(self.target(device), *args, timeout=self.timeout)
        except (TimeoutError, ConnectionError, OSError) as exc:
            where = device.address or "the broadcast address"
            raise DeviceError(
                f"UHPPOTE controller {device.serial or '?'} at {where} did not answer {what} "
                f"({exc.__class__.__name__}): check power, IP address and that the bridge is on "
                "its LAN"
            ) from exc
        except ValueError as exc:
            raise DeviceError(
                f"UHPPOTE controller answered {what} with a bad packet: {exc}"
            ) from exc
        if reply is None:
            raise DeviceError(f"UHPPOTE controller did not answer {what}")
        return reply

"""The device registry's records: a device's stored row, its health as staff see it,
and the refusals of onboarding (`hardware_bridge.onboarding` does the onboarding itself)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hub.sdk import DeviceConfig


class OnboardingError(Exception):
    """Staff-facing refusal of an onboarding step; `code` is stable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class DeviceHealth:
    online: bool | None = None  # the driver's last liveness check (None: not checked)
    last_error: str = ""  # why the last check or attach failed
    last_seen: datetime | None = None
    last_event_at: datetime | None = None  # the device's clock of its latest event
    event_lag_s: float | None = None  # bridge time - device time of the latest event
    list_version: str = ""  # the ticket cursor last pushed to the device
    pushed: int = 0
    push_error: str = ""
    scans: int = 0
    events: int = 0
    duplicates: int = 0
    forged: int = 0  # "granted" events for credentials never pushed to it (refused)

    def as_dict(self) -> dict[str, Any]:
        return {
            "online": self.online,
            "last_error": self.last_error,
            "last_seen": self.last_seen.isoformat() if self.last_seen else None,
            "last_event_at": self.last_event_at.isoformat() if self.last_event_at else None,
            "event_lag_s": self.event_lag_s,
            "list_version": self.list_version,
            "pushed": self.pushed,
            "push_error": self.push_error,
            "scans": self.scans,
            "events": self.events,
            "duplicates": self.duplicates,
            "forged": self.forged,
        }


def describe(config: DeviceConfig) -> dict[str, Any]:
    secret = {"password", "secret", "token", "key"}
    return {
        "id": config.id,
        "vendor": config.vendor,
        "address": config.address,
        "serial": config.serial,
        "gate": config.gate,
        "options": {
            k: ("***" if any(s in k.lower() for s in secret) else v)
            for k, v in config.options.items()
        },
    }


def config_of(row: Any) -> DeviceConfig:
    return DeviceConfig(
        id=row["id"],
        vendor=row["vendor"],
        address=row["address"],
        serial=row["serial"],
        gate=row["gate"],
        options=json.loads(row["options"] or "{}"),
    )

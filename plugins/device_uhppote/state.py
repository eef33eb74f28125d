"""What the driver knows about each controller between packets: its event cursor, the
entries its cards have left, and its health (`tickethub device list`)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime

from hub.sdk import DeviceConfig
from plugins.device_uhppote.profiles import ProfileBook


@dataclass
class ControllerState:
    config: DeviceConfig
    cursor: int = 0  # highest index recorded contiguously
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    entries: dict[int, int] = field(default_factory=dict)  # card → granted swipes left
    online: bool = True
    last_seen: datetime | None = None
    last_resync: float = 0.0
    events: int = 0
    duplicates: int = 0
    lost: int = 0  # overwritten before we could read them
    source_ip: str = ""  # where its events come from when its address is no IP (learnt)
    forged: int = 0  # pushed events its own log does not hold
    skew_seconds: float | None = None
    profiles: ProfileBook = field(default_factory=ProfileBook)
    profiles_loaded: bool = False

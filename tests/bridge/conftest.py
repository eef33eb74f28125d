"""A hub (in-process, SQLite, fixed clock) and a bridge synced to it over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from hardware_bridge.runtime import Bridge
from hardware_bridge.settings import BridgeSettings
from hub.clock import FixedClock
from hub.device_contracts import DeviceConfig, DeviceError, DeviceHost, DeviceInfo
from hub.domain.gate import GateCredential
from tests.support import T0, hub_client, seed

TOKEN = "bridge-token-v1"
AT = T0 + timedelta(days=1)  # 2026-11-23 10:00 Asia/Shanghai: inside TOMORROW's tickets


class LoopDriver:
    """A minimal, honest `DeviceDriver`: its "devices" are entries of `units` (a serial
    each, or missing = unreachable). It records what the bridge pushes and attaches."""

    vendor = "loop"

    def __init__(self, units: dict[str, str] | None = None) -> None:
        self.units = dict(units or {})  # address -> serial
        self.pushed: dict[str, dict[str, GateCredential]] = {}
        self.attached: list[str] = []
        self.host: DeviceHost | None = None

    async def start(self, host: DeviceHost) -> None:
        self.host = host

    async def stop(self) -> None:
        self.host = None

    async def probe(self, device: DeviceConfig) -> DeviceInfo:
        serial = self.units.get(device.address)
        if serial is None:
            raise DeviceError(f"no answer from {device.address}")
        return DeviceInfo(serial=serial, model="loop-1", clock=AT - timedelta(hours=3))

    async def attach(self, device: DeviceConfig) -> None:
        self.attached.append(device.id)

    async def detach(self, device_id: str) -> None:
        self.attached.remove(device_id)

    async def push_credentials(
        self, device: DeviceConfig, credentials: Sequence[GateCredential]
    ) -> None:
        held = self.pushed.setdefault(device.id, {})
        for c in credentials:
            held[c.ticket_id] = c

    async def open_door(self, device: DeviceConfig, door: int = 1) -> None:
        return None


@pytest.fixture
async def hub(aiohttp_client: Any, sqlite_url: str) -> TestClient:
    client = await hub_client(aiohttp_client, sqlite_url, bridge_tokens={"v1": TOKEN})
    await seed(client)
    return client


def bridge_settings(hub_url: str, db: Path, **over: Any) -> BridgeSettings:
    return BridgeSettings(
        hub_url=hub_url,
        venue_id="v1",
        token=TOKEN,
        db_path=str(db),
        bridge_id=over.pop("bridge_id", "b1"),
        sync_interval=over.pop("sync_interval", 0.2),
        **over,
    )


@pytest.fixture
async def bridge(hub: TestClient, tmp_path: Path) -> AsyncIterator[Bridge]:
    async with aiohttp.ClientSession() as http:
        b = Bridge(
            bridge_settings(str(hub.make_url("")), tmp_path / "bridge.db"),
            http,
            clock=FixedClock(AT),
            drivers={"loop": LoopDriver({"10.0.0.5": "LOOP-0005", "10.0.0.6": "LOOP-0006"})},
        )
        await b.start_drivers()
        await b.start(sync=False)  # tests sync by hand: no background loop
        await b.link.pull_config()
        await b.link.sync_once()
        await b.host.add_device("loop", device_id="gate-1", address="10.0.0.5", gate="north")
        try:
            yield b
        finally:
            await b.stop()
            b.close()

"""A simulated controller on 127.0.0.1 and a driver pointed at it (no poll unless asked)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest

from hub.sdk import DeviceConfig
from hub.testing.device_host import RecordingHost, running_host
from plugins.device_uhppote.driver import UhppoteDriver
from sandbox.devices.uhppote import SimulatedController

SERIAL = 423187757


@pytest.fixture
async def controller() -> AsyncIterator[SimulatedController]:
    sim = SimulatedController(SERIAL)
    await sim.start()
    yield sim
    sim.close()


def config(sim: SimulatedController, **options: object) -> DeviceConfig:
    address = f"{sim.address[0]}:{sim.address[1]}"
    return DeviceConfig(
        id="wg-1",
        vendor="uhppote",
        address=address,
        serial=str(sim.serial),
        gate="north",
        options=options,
    )


def driver_for(sim: SimulatedController, *, poll_seconds: float = 0) -> UhppoteDriver:
    return UhppoteDriver(
        bind="127.0.0.1",
        broadcast=f"{sim.address[0]}:{sim.address[1]}",
        listen="127.0.0.1:0",
        timeout=1.5,  # loopback answers at once; generous for a loaded machine
        poll_seconds=poll_seconds,
    )


@asynccontextmanager
async def attached(
    sim: SimulatedController, *, poll_seconds: float = 0, **options: object
) -> AsyncIterator[tuple[RecordingHost, UhppoteDriver, DeviceConfig]]:
    driver = driver_for(sim, poll_seconds=poll_seconds)
    device = config(sim, **options)
    async with running_host([driver]) as host:
        host.add(device)
        await driver.attach(device)
        yield host, driver, device


async def until(condition: Callable[[], bool], what: str, limit: float = 5.0) -> None:
    """Wait for something another task or the network does; bounded, never timed."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"never happened: {what}")
        await asyncio.sleep(0.01)

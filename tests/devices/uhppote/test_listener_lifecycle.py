"""The UHPPOTE event listener is bound only while a UHPPOTE controller is onboarded, on
the address ``TICKETHUB_UHPPOTE_LISTEN`` names: a bridge serving other vendors holds no
UDP port for this driver. Through the real bridge (store, onboarding, restart)."""

from __future__ import annotations

import socket
from pathlib import Path

import aiohttp
import pytest

from hardware_bridge.runtime import Bridge
from hub.clock import FixedClock
from plugins.device_uhppote.driver import UhppoteDriver
from sandbox.devices.uhppote import SimulatedController
from tests.bridge.conftest import AT, bridge_settings

SERIAL = 423187757


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bound_by_someone(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
        return False


async def start_bridge(db: Path, sim: SimulatedController, http: aiohttp.ClientSession) -> Bridge:
    driver = UhppoteDriver(  # the listen address from the documented setting
        bind="127.0.0.1",
        broadcast=f"{sim.address[0]}:{sim.address[1]}",
        timeout=1.5,
        poll_seconds=0,
    )
    bridge = Bridge(
        bridge_settings("http://127.0.0.1:9", db),
        http,
        clock=FixedClock(AT),
        drivers={"uhppote": driver},
    )
    await bridge.start_drivers()
    await bridge.start(sync=False)
    return bridge


async def test_the_listener_binds_with_the_first_controller_and_closes_with_the_last(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_udp_port()
    monkeypatch.setenv("TICKETHUB_UHPPOTE_LISTEN", f"127.0.0.1:{port}")
    sim = SimulatedController(SERIAL)
    await sim.start()
    db = tmp_path / "bridge.db"
    try:
        async with aiohttp.ClientSession() as http:
            bridge = await start_bridge(db, sim, http)
            driver = bridge.host.drivers["uhppote"]
            assert isinstance(driver, UhppoteDriver)
            try:
                assert driver.listen_address is None
                assert not bound_by_someone(port)  # nothing onboarded: no port taken

                address = f"{sim.address[0]}:{sim.address[1]}"
                added = await bridge.host.add_device("uhppote", address=address, gate="west")
                assert added["device"]["id"] == f"uhppote-{SERIAL}"
                assert driver.listen_address == ("127.0.0.1", port)
                assert sim.listener == ("127.0.0.1", port)  # the controller was told
                assert bound_by_someone(port)

                assert await bridge.host.remove_device(f"uhppote-{SERIAL}")
                assert driver.listen_address is None and not bound_by_someone(port)
                await bridge.host.add_device("uhppote", address=address, gate="west")
            finally:
                await bridge.stop()
                bridge.close()
            assert not bound_by_someone(port)

            # a restart serves the controller onboarded before: listening again at once
            bridge = await start_bridge(db, sim, http)
            try:
                assert bridge.host.drivers["uhppote"].listen_address == (  # type: ignore[attr-defined]
                    "127.0.0.1",
                    port,
                )
            finally:
                await bridge.stop()
                bridge.close()
    finally:
        sim.close()

"""A bridge served over HTTP on 127.0.0.1 (port 0) with its handheld page, synced to the
in-process hub of `tests.bridge.conftest` through a `LinkProxy` the test can cut."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from hardware_bridge.app import BRIDGE, create_app
from hardware_bridge.runtime import Bridge
from hub.clock import FixedClock
from hub.testing.netfault import LinkProxy
from tests.bridge.conftest import AT, bridge_settings

PIN = "246810"
ADMIN_TOKEN = "bridge-staff-token"


@dataclass
class Site:
    url: str  # the bridge's base URL
    bridge: Bridge
    link: LinkProxy  # the venue's internet link: set_mode("down") cuts the hub off


@asynccontextmanager
async def handheld_site(hub: TestClient, tmp_path: Path, **over: object) -> AsyncIterator[Site]:
    assert hub.server.port is not None
    link = LinkProxy(hub.server.port)
    await link.start()
    settings = bridge_settings(
        link.url,
        tmp_path / "bridge.db",
        handheld_pin=over.pop("handheld_pin", PIN),
        admin_token=ADMIN_TOKEN,
        hub_timeout=30.0,  # a hang guard: the cut link refuses at once (2 s failed under load)
        **over,
    )
    app = await create_app(settings, clock=FixedClock(AT), drivers={}, sync=False)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    bridge = app[BRIDGE]
    try:
        await bridge.link.pull_config()
        await bridge.link.sync_once()
        yield Site(str(server.make_url("")).rstrip("/"), bridge, link)
    finally:
        await server.close()
        await link.close()

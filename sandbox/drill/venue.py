"""The drill's venue: its seed at the hub (through the admin API), the tickets sold
before the outage (through the hub's box office API), and a real venue bridge in this
process — its own app, SQLite log and sync loop with the product's default heartbeat —
reaching the hub through a link the drill cuts, with a sandbox QR reader (HTTP) at one
gate and the handheld page at the other.

A venue of its own (not the demo's): the drill's figures are then exactly its own sales
and admissions, whatever else the hub sold that day, so it can run as a demo step too.
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from hardware_bridge.app import BRIDGE, create_app
from hardware_bridge.runtime import Bridge
from hardware_bridge.settings import BridgeSettings
from hub.testing.processes import HubAdmin
from plugins.device_qrhttp.driver import QRHttpDriver
from sandbox.demo.gates_link import VenueLink
from sandbox.devices.qrhttp import CardIdReader

VENUE = "drill"
VENUE_NAME = "断网演练景区 Outage drill"
TIMEZONE = "Asia/Shanghai"
POOL = "drill-main"
PRODUCT = "drill-adult"
CAPACITY = 200  # the whole day, one cell
DAY_CAP = 150  # the venue's whole-day cap (总量控制)
ALLOTMENT = 25  # set aside for the bridge's box office
BRIDGE_ID = "drill-east"
BRIDGE_TOKEN = "drill-bridge-token-0001"  # the hub's TICKETHUB_BRIDGE_TOKENS entry
STAFF_TOKEN = "drill-bridge-staff-0001"
HANDHELD_PIN = "drill-pin-0001"
READER_TOKEN = "drill-reader-secret-0001"
READER_GATE = "east"
HANDHELD_GATE = "west"
PER_ORDER = 5  # pre-sold tickets per box-office order


class DrillSetupFailed(RuntimeError):
    """The hub or the bridge refused a step of the drill's set-up."""


async def seed(admin: HubAdmin, day: date) -> None:
    """The venue, its product, the day's capacity and cap (idempotent PUTs)."""
    await admin.put_venue(VENUE, VENUE_NAME, TIMEZONE)
    await admin.put_product(
        PRODUCT,
        {
            "venue_id": VENUE,
            "name": "演练成人票 Drill adult",
            "pool": POOL,
            "prices": [{"amount": 8000, "channel": "*"}],
            "valid_days": 1,
        },
    )
    await admin.put_inventory(POOL, day.isoformat(), day.isoformat(), [("", CAPACITY)])
    await admin.call(
        "PUT",
        f"/api/admin/venues/{VENUE}/day-cap",
        json={"date_from": day.isoformat(), "date_to": day.isoformat(), "capacity": DAY_CAP},
    )


async def presell(
    http: aiohttp.ClientSession, hub_url: str, boxoffice_token: str, day: date, n: int
) -> list[dict[str, str]]:
    """`n` tickets sold at the hub's box office before the outage: (id, credential)."""
    tickets: list[dict[str, str]] = []
    run = uuid.uuid4().hex[:8]
    headers = {"Authorization": f"Bearer {boxoffice_token}"}
    for i in range(0, n, PER_ORDER):
        body = {
            "travel_date": day.isoformat(),
            "slot": "",
            "lines": [{"product_id": PRODUCT, "quantity": min(PER_ORDER, n - i)}],
            "contact": {"name": "演练", "phone": "13800000000"},
            "confirm": True,
        }
        async with http.post(
            f"{hub_url}/api/boxoffice/orders",
            json=body,
            headers={**headers, "Idempotency-Key": f"drill-{run}-{i}"},
        ) as resp:
            answer = await resp.json(content_type=None)
            if resp.status not in (200, 201):
                raise DrillSetupFailed(f"box office sale: HTTP {resp.status} {answer}")
        tickets += [
            {"id": str(t["id"]), "credential": str(t["credential"])}
            for t in answer["order"]["tickets"]
        ]
    return tickets


@dataclass
class Venue:
    """Everything `start_venue` started; `close` stops it in reverse."""

    link: VenueLink
    runner: web.AppRunner
    bridge: Bridge
    url: str
    http: aiohttp.ClientSession
    reader: CardIdReader

    async def call(self, method: str, path: str, json: Any = None, token: str = "") -> Any:
        """The bridge's HTTP API as staff use it; (status, body)."""
        headers = {"Authorization": f"Bearer {token or STAFF_TOKEN}"}
        async with self.http.request(method, self.url + path, json=json, headers=headers) as r:
            return r.status, await r.json(content_type=None)

    async def status(self) -> dict[str, Any]:
        async with self.http.get(f"{self.url}/status") as resp:
            return dict(await resp.json())

    async def close(self) -> None:
        await self.runner.cleanup()  # the bridge stops its sync loop and drivers
        await self.link.close()


async def start_venue(hub_port: int, db_path: Path, http: aiohttp.ClientSession) -> Venue:
    """The link, the bridge (synced once at start) and its QR reader, onboarded."""
    async with contextlib.AsyncExitStack() as undo:
        link = VenueLink(hub_port)
        await link.start()
        undo.push_async_callback(link.close)
        settings = BridgeSettings(
            hub_url=link.url,
            venue_id=VENUE,
            token=BRIDGE_TOKEN,
            bridge_id=BRIDGE_ID,
            db_path=str(db_path),
            admin_token=STAFF_TOKEN,
            handheld_pin=HANDHELD_PIN,
            sync_interval=0.5,  # rounds while online; the heartbeat keeps its default
            synchronous="NORMAL",
        )
        app = await create_app(settings, drivers={"qrhttp": QRHttpDriver()})
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        undo.push_async_callback(runner.cleanup)
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        reader = CardIdReader(url, "QR-DRILL-0001", READER_GATE, http, token=READER_TOKEN)
        venue = Venue(link, runner, app[BRIDGE], url, http, reader)
        status, answer = await venue.call(
            "POST",
            "/admin/devices",
            {
                "id": "qr-east",
                "vendor": "qrhttp",
                "gate": READER_GATE,
                "serial": reader.serial,
                "options": {"mapping": "cardid", "token": READER_TOKEN},
            },
        )
        if status != 201:
            raise DrillSetupFailed(f"onboarding the QR reader: HTTP {status} {answer}")
        undo.pop_all()
        return venue
    raise AssertionError("unreachable")  # the exit stack re-raises any failure above

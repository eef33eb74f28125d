"""``tickethub bench sync`` and ``tickethub bench scans``: measured, never asserted.

Both run a real hub process (``python -m hub serve``) on a fresh database and a bridge
in this process talking to it over loopback HTTP.

Seeding N tickets through order intake would take minutes and measure intake, not the
bridge; so the bench writes N confirmed tickets straight into the hub's tables with the
hub's own record helpers (`hub.orders.records.insert_many`, which stamps the change
sequence like any order) and signs each QR with the venue's key, exactly as issuance
does. Everything after that goes through the public paths: the bridge pulls the tickets
by cursor, decides, logs, and uploads.

* sync: the bridge decides one scan per ticket with the hub unreachable (all admitted,
  offline), then the link returns and the clock runs from the first upload to the last
  acknowledged one. ``lost`` and ``duplicated`` are counted in the hub's database.
* scans: the latency of `BridgeHost.decide` (verify, rules, durable log append) and the
  scans per second, offline (hub unreachable) and online (sync loop running against the
  hub); then the same through a real driver protocol: HTTP QR-reader requests (the
  ``cardid`` dialect of `device_qrhttp`) on loopback, latency as the reader sees it.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
from sqlalchemy import func, select

from hardware_bridge.runtime import Bridge
from hardware_bridge.settings import BridgeSettings
from hub.bench.orders import fresh_database
from hub.domain import Order, OrderLine, OrderState, Ticket
from hub.domain.credentials import CredentialClaims, CredentialSigner
from hub.domain.gate import Medium, Scan
from hub.orders import records
from hub.sdk import DeviceConfig, DeviceInfo, FixedClock
from hub.settings import Settings
from hub.storage.db import create_admin_engine
from hub.storage.tables import FlowCountRow, RedemptionRow, TicketRow, VenueRow
from hub.testing.processes import HubAdmin, HubProcesses, free_port

TOKEN = "bench-bridge-token"
TZ = ZoneInfo("Asia/Shanghai")
PER_ORDER = 100


async def seed_tickets(db_url: str, n: int, day: datetime) -> list[str]:
    """N confirmed, signed tickets for venue v1 (product `adult`), valid on `day`."""
    engine = create_admin_engine(db_url)
    try:
        async with engine.connect() as conn:
            venue = (await conn.execute(select(VenueRow).where(VenueRow.id == "v1"))).one()
        signer = CredentialSigner(venue.signing_private_key, venue.signing_key_id)
        start = day.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        until = start + timedelta(days=2)
        credentials: list[str] = []
        # the bench's hubs (HubProcesses) run on the development secrets; the tickets
        # written here carry no ID number anyway
        ids = Settings.model_construct().id_numbers()
        for first in range(0, n, 5000):
            orders, tickets = [], []
            for o in range(first, min(n, first + 5000), PER_ORDER):
                oid = f"OBENCH{o:09d}"
                count = min(PER_ORDER, n - o)
                order = Order(
                    id=oid,
                    channel="bench",
                    partner_order_id=oid,
                    venue_id="v1",
                    state=OrderState.CONFIRMED,
                    travel_date=day.astimezone(TZ).date(),
                    lines=(OrderLine(product_id="adult", quantity=count, unit_price=1),),
                    amount=count,
                    created_at=start,
                    confirmed_at=start,
                )
                orders.append(records.order_row(order, {}))
                for i in range(count):
                    tid = f"{o + i:016x}"
                    qr = signer.sign(
                        CredentialClaims(
                            ticket_id=tid,
                            product_id="adult",
                            valid_from=start,
                            valid_until=until,
                            entries_allowed=1,
                            key_id=signer.key_id,
                        )
                    )
                    credentials.append(qr)
                    tickets.append(
                        records.ticket_row(
                            Ticket(
                                id=tid,
                                order_id=oid,
                                product_id="adult",
                                venue_id="v1",
                                valid_from=start,
                                valid_until=until,
                                credential=qr,
                            ),
                            ids,
                        )
                    )
            async with engine.begin() as conn:
                await records.insert_many(conn, orders=orders, tickets=tickets)
        return credentials
    finally:
        await engine.dispose()


@contextlib.asynccontextmanager
async def hub_for_bench(db: str) -> AsyncIterator[tuple[HubProcesses, str]]:
    async with fresh_database(db) as url:
        env = {"TICKETHUB_BRIDGE_TOKENS": f'{{"v1": "{TOKEN}"}}', "TICKETHUB_OUTBOX_WORKERS": "0"}
        async with HubProcesses(url, env=env, startup_timeout=120) as hubs:
            async with aiohttp.ClientSession() as http:
                admin = HubAdmin(http, hubs.urls[0], hubs.admin_token)
                await admin.put_venue("v1", "Bench Mountain")
                await admin.put_product(
                    "adult",
                    {"venue_id": "v1", "name": "Adult", "pool": "main", "prices": [{"amount": 1}]},
                )
            yield hubs, url


class BenchDriver:
    """A turnstile that asks for every scan and keeps no list (like a QR reader): the
    bench onboards it through the normal flow so scans come from a known device."""

    vendor = "bench"
    keeps_lists = False

    async def start(self, host: Any) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def probe(self, device: DeviceConfig) -> DeviceInfo:
        return DeviceInfo(serial=str(device.options.get("serial", "BENCH")), model="bench")

    async def attach(self, device: DeviceConfig) -> None:
        return None

    async def detach(self, device_id: str) -> None:
        return None

    async def push_credentials(self, device: DeviceConfig, credentials: Any) -> None:
        return None  # asks online for every scan: holds no list

    async def open_door(self, device: DeviceConfig, door: int = 1) -> None:
        return None


async def _bridge(
    hub_url: str, path: Path, http: aiohttp.ClientSession, at: datetime, synchronous: str = "FULL"
) -> Bridge:
    settings = BridgeSettings(
        synchronous=synchronous,
        hub_url=hub_url,
        venue_id="v1",
        token=TOKEN,
        db_path=str(path),
        bridge_id="bench",
        sync_interval=0.2,
    )
    bridge = Bridge(settings, http, clock=FixedClock(at), drivers={"bench": BenchDriver()})
    await bridge.host.add_device("bench", device_id="bench-gate", gate="main")
    return bridge


def _scan(qr: str) -> Scan:
    return Scan(device_id="bench-gate", gate="main", medium=Medium.QR, value=qr)


async def bench_sync(n: int, db: str = "sqlite") -> dict[str, Any]:
    at = datetime.now(TZ).replace(hour=10, minute=0, second=0, microsecond=0) + timedelta(days=1)
    async with hub_for_bench(db) as (hubs, url):
        t0 = time.perf_counter()
        credentials = await seed_tickets(url, n, at)
        seed_s = time.perf_counter() - t0
        with tempfile.TemporaryDirectory(prefix="tickethub-bridge-bench-") as tmp:
            async with aiohttp.ClientSession() as http:
                # The offline decisions are the set-up here (bench scans measures them):
                # logged with synchronous=NORMAL so 100,000 of them take seconds, not
                # minutes of fsyncs. The upload, the measured part, is unchanged.
                bridge = await _bridge(hubs.urls[0], Path(tmp) / "bridge.db", http, at, "NORMAL")
                try:
                    t0 = time.perf_counter()
                    await bridge.link.pull_config()
                    await bridge.link.pull_changes()
                    down_s = time.perf_counter() - t0
                    # the link goes down: every decision is taken offline
                    bridge.link.hub_url = f"http://127.0.0.1:{free_port()}"
                    bridge.link.state.online = False
                    t0 = time.perf_counter()
                    admitted = 0
                    for qr in credentials:
                        admitted += (await bridge.host.decide(_scan(qr))).allow
                    decide_s = time.perf_counter() - t0
                    # the link returns: upload everything
                    bridge.link.hub_url = hubs.urls[0]
                    t0 = time.perf_counter()
                    await bridge.link.sync_once()
                    up_s = time.perf_counter() - t0
                    unsynced = bridge.store.log_counts()["unsynced"]
                finally:
                    bridge.close()
        engine = create_admin_engine(url)
        try:
            async with engine.connect() as conn:
                red = RedemptionRow.__table__
                rows = (
                    await conn.execute(select(func.count()).where(red.c.bridge == "bench"))
                ).scalar_one()
                flow = (await conn.execute(select(func.sum(FlowCountRow.entries)))).scalar() or 0
                used = (
                    await conn.execute(select(func.sum(TicketRow.__table__.c.entries_used)))
                ).scalar() or 0
        finally:
            await engine.dispose()
    return {
        "bench": "sync",
        "db": db,
        "decisions": n,
        "admitted": int(admitted),
        "seconds": round(up_s, 3),
        "decisions_per_s": round(n / up_s, 1) if up_s else None,
        "lost": n - int(rows),
        "duplicated": max(0, int(flow) - admitted) + max(0, int(used) - admitted),
        "unsynced_left": unsynced,
        "down_sync_seconds": round(down_s, 3),
        "offline_decide_seconds": round(decide_s, 3),
        "seed_seconds": round(seed_s, 3),
        "bridge_log_synchronous_during_setup": "NORMAL",
    }


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _measure(bridge: Bridge, credentials: list[str]) -> dict[str, Any]:
    lat: list[float] = []
    t0 = time.perf_counter()
    admitted = 0
    for qr in credentials:
        s = time.perf_counter()
        decision = await bridge.host.decide(_scan(qr))
        lat.append((time.perf_counter() - s) * 1000)
        admitted += decision.allow
        await asyncio.sleep(0)  # let the sync loop (online) run between scans
    total = time.perf_counter() - t0
    return {
        "scans": len(credentials),
        "admitted": admitted,
        "scans_per_s": round(len(credentials) / total, 1),
        "p50_ms": round(statistics.median(lat), 3),
        "p99_ms": round(_percentile(lat, 0.99), 3),
        "max_ms": round(max(lat), 3),
    }


async def _through_qrhttp(
    hub_url: str,
    path: Path,
    http: aiohttp.ClientSession,
    at: datetime,
    credentials: list[str],
    readers: int = 1,
) -> dict[str, Any] | None:
    """The same scans as turnstile QR readers send them (the shipped ``cardid`` dialect
    of the `device_qrhttp` driver, over loopback HTTP), latency seen by the reader.
    ``readers`` readers are onboarded, each with its serial and token, and scan ``i``
    comes from reader ``i % readers`` — per-scan work must not grow with their number.
    None when the driver is not installed."""
    from aiohttp import web

    from hub.sdk.runtime import build_plugins

    plugins = build_plugins()
    if "qrhttp" not in plugins.devices:
        return None
    settings = BridgeSettings(
        hub_url=hub_url, venue_id="v1", token=TOKEN, db_path=str(path), bridge_id="benchqr"
    )
    bridge = Bridge(
        settings,
        http,
        clock=FixedClock(at),
        plugins=plugins,
        drivers={"qrhttp": plugins.devices.get("qrhttp")()},
    )
    await bridge.start_drivers()
    app = web.Application()
    app.router.add_routes(bridge.host.routes.table)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        await bridge.link.pull_config()
        await bridge.link.pull_changes()
        bridge.link.hub_url = f"http://127.0.0.1:{free_port()}"  # offline: gates go on
        tokens = [f"bench-reader-secret-{r:04d}" for r in range(readers)]  # each its own
        for r, token in enumerate(tokens):
            await bridge.host.add_device(
                "qrhttp",
                device_id=f"qr-{r + 1}",
                serial=f"QRB{r + 1}",
                gate="main",
                options={"mapping": "cardid", "token": token},
            )
        lat: list[float] = []
        opened = 0
        t0 = time.perf_counter()
        for i, qr in enumerate(credentials):
            r = i % readers
            params = {
                "token": tokens[r],
                "cardid": qr,
                "mjihao": "main",
                "cjihao": f"QRB{r + 1}",
                "status": "11",
                "time": at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),  # in step
            }
            s = time.perf_counter()
            async with http.get(f"http://127.0.0.1:{port}/scan", params=params) as resp:
                answer = await resp.json(content_type=None)
            lat.append((time.perf_counter() - s) * 1000)
            opened += answer.get("status") == 1
        total = time.perf_counter() - t0
    finally:
        await bridge.stop()
        await runner.cleanup()
        bridge.close()
    return {
        "scans": len(credentials),
        "admitted": opened,
        "scans_per_s": round(len(credentials) / total, 1),
        "p50_ms": round(statistics.median(lat), 3),
        "p99_ms": round(_percentile(lat, 0.99), 3),
        "max_ms": round(max(lat), 3),
        "readers": readers,
        "path": "HTTP GET /scan (cardid reader protocol) -> qrhttp driver -> decide",
    }


async def bench_scans(n: int, db: str = "sqlite", *, readers: int = 1) -> dict[str, Any]:
    at = datetime.now(TZ).replace(hour=10, minute=0, second=0, microsecond=0) + timedelta(days=1)
    async with hub_for_bench(db) as (hubs, url):
        credentials = await seed_tickets(url, 3 * n, at)
        with tempfile.TemporaryDirectory(prefix="tickethub-bridge-bench-") as tmp:
            async with aiohttp.ClientSession() as http:
                bridge = await _bridge(hubs.urls[0], Path(tmp) / "bridge.db", http, at)
                try:
                    await bridge.link.pull_config()
                    await bridge.link.pull_changes()
                    real_url = bridge.link.hub_url
                    bridge.link.hub_url = f"http://127.0.0.1:{free_port()}"
                    bridge.link.state.online = False
                    offline = await _measure(bridge, credentials[:n])
                    bridge.link.hub_url = real_url
                    await bridge.link.sync_once()
                    bridge.link.start(0.2)
                    online = await _measure(bridge, credentials[n : 2 * n])
                    await bridge.link.stop()
                    await bridge.link.sync_once()
                finally:
                    bridge.close()
                qrhttp = await _through_qrhttp(
                    hubs.urls[0],
                    Path(tmp) / "bridge-qr.db",
                    http,
                    at,
                    credentials[2 * n :],
                    readers,
                )
    return {
        "bench": "scans",
        "db": db,
        "path": "BridgeHost.decide (QR verify + rules + durable log append)",
        "offline": offline,
        "online": online,
        "qrhttp_offline": qrhttp,
    }

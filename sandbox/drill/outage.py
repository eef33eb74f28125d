"""The outage drill (断网应急演练): what a venue rehearses before the season, played against a
running hub and checked from both sides.

1. The drill venue is seeded and `presold` tickets are sold at the hub's box office; the
   venue bridge starts and syncs them; staff certify its box-office key and grant it an
   emergency allotment (taken from the common stock and the day cap in advance).
2. The link is cut: the bridge goes offline on its own (connections refused).
3. The bridge's box office API sells `emergency` tickets (cash and external payments)
   and refuses a sale past the allotment.
4. Every ticket — pre-sold and emergency — is admitted, alternately at the sandbox QR
   reader (gate ``east``) and through the handheld page's API (gate ``west``); a
   ticket already used at one gate is refused at the other.
5. The link returns: the seconds until the bridge is ONLINE again (its heartbeat, not a
   nudge from the drill) and until everything synced are measured.
6. The checks, each from the hub's HTTP API against the bridge's own records: nothing
   lost, nothing twice, the stock and the day cap agree with the orders, the day report
   shows the emergency channel, the gate counts agree, and the bridge was back online
   within `MAX_BACK_ONLINE_S`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from pathlib import Path
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

import aiohttp

from hub.testing.processes import HubAdmin
from sandbox.drill import venue as site
from sandbox.drill.result import DrillResult
from sandbox.drill.venue import Venue

MAX_BACK_ONLINE_S = 5.0  # issue 16: back online ≤ 5 s after the hub comes back
WAIT = 30.0  # seconds any one wait may take before the drill gives up
SALE_SIZE = 2  # tickets per emergency sale


async def run_drill(
    hub_url: str,
    admin_token: str,
    boxoffice_token: str,
    workdir: Path,
    *,
    emergency: int = 20,
    presold: int = 50,
) -> DrillResult:
    """Play the drill against the hub at `hub_url` (whose bridge tokens include
    `site.VENUE`); the bridge keeps its SQLite file in `workdir`."""
    if emergency > site.ALLOTMENT or emergency % SALE_SIZE:
        raise ValueError(f"emergency: an even number up to {site.ALLOTMENT}")
    port = urlparse(hub_url).port or 80
    day = datetime.now(ZoneInfo(site.TIMEZONE)).date()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
        admin = HubAdmin(http, hub_url, admin_token)
        await site.seed(admin, day)
        sold = await site.presell(http, hub_url, boxoffice_token, day, presold)
        venue = await site.start_venue(port, workdir / "bridge.db", http)
        try:
            return await _Drill(admin, venue, day, sold, emergency).play()
        finally:
            await venue.close()


class _Drill:
    def __init__(
        self, admin: HubAdmin, venue: Venue, day: date, presold: list[dict[str, str]], n: int
    ) -> None:
        self.admin, self.venue, self.day = admin, venue, day
        self.presold, self.n = presold, n
        self.result = DrillResult()
        self.handheld_token = ""

    async def play(self) -> DrillResult:
        r, v = self.result, self.venue
        await self.prepare()
        # -- the outage ---------------------------------------------------------------
        cut_at = time.perf_counter()
        v.link.set("down")
        await self.until(lambda: self.mode_is("offline"), "the bridge noticing the outage")
        r.figures["offline_after_cut_s"] = round(time.perf_counter() - cut_at, 3)
        emergency = await self.sell()
        tickets = self.presold + emergency
        admitted = await self.admit(tickets)
        again = await self.scan(site.HANDHELD_GATE, tickets[0])  # used at the QR reader
        r.check(
            "a ticket used at one gate is refused at the other (offline)",
            not again,
            f"ticket {tickets[0]['id']} at {site.HANDHELD_GATE}",
        )
        st = await v.status()
        r.figures["offline_decisions_waiting"] = st["log"]["unsynced"]
        r.figures["emergency_orders_waiting"] = st["emergency"]["orders"].get("pending", 0)
        r.check(
            "offline: every ticket admitted at the two gates",
            admitted == len(tickets),
            f"{admitted}/{len(tickets)}",
        )
        # -- the link returns -------------------------------------------------------------
        back_at = time.perf_counter()
        v.link.set("up")
        await self.until(lambda: self.mode_is("online"), "the bridge back online")
        back = time.perf_counter() - back_at
        await self.until(self.synced, "everything synced")
        synced = time.perf_counter() - back_at
        r.figures["back_online_s"] = round(back, 3)
        r.figures["synced_s"] = round(synced, 3)
        r.check(
            f"back online within {MAX_BACK_ONLINE_S:g} s of the hub returning",
            back <= MAX_BACK_ONLINE_S,
            f"{back:.2f} s (all synced after {synced:.2f} s)",
        )
        await self.compare(emergency, admitted)
        return r

    # -- before the outage ---------------------------------------------------------------
    async def prepare(self) -> None:
        v = self.venue
        _, office = await v.call("GET", "/api/boxoffice/status")
        await self.admin.call(
            "POST",
            "/api/admin/emergency/keys",
            json={
                "venue_id": site.VENUE,
                "bridge_id": site.BRIDGE_ID,
                "public_key": office["public_key"],
                "valid_days": 1,
                "staff": "drill",
            },
        )
        await self.admin.call(
            "PUT",
            "/api/admin/emergency/allotments",
            json={
                "venue_id": site.VENUE,
                "bridge_id": site.BRIDGE_ID,
                "pool": site.POOL,
                "date": self.day.isoformat(),
                "slot": "",
                "quantity": site.ALLOTMENT,
            },
        )
        await self.until(self.ready, "the bridge receiving its key and allotment")
        _, answer = await v.call(
            "POST",
            "/handheld/api/session",
            {"staff": "drill-wang", "pin": site.HANDHELD_PIN, "gate": site.HANDHELD_GATE},
        )
        self.handheld_token = str(answer["token"])
        self.result.figures["presold"] = len(self.presold)

    async def ready(self) -> bool:
        st = await self.venue.status()
        office = st["emergency"]
        left = sum(int(a["left"]) for a in office["allotments"])
        return (
            office["key_id"] is not None
            and left == site.ALLOTMENT
            and st["tickets_cached"] >= len(self.presold)
            and st["log"]["unsynced"] == 0
        )

    # -- at the venue, offline -------------------------------------------------------------
    async def sell(self) -> list[dict[str, str]]:
        """`n` emergency tickets at the bridge's box office API, then one sale past the
        allotment, which must be refused."""
        r, tickets = self.result, []
        for i in range(self.n // SALE_SIZE):
            cash = i % 2 == 0
            status, sale = await self.venue.call(
                "POST",
                "/api/boxoffice/sales",
                {
                    "product_id": site.PRODUCT,
                    "date": self.day.isoformat(),
                    "slot": "",
                    "quantity": SALE_SIZE,
                    "payment": "cash" if cash else "external",
                    "payment_ref": "" if cash else f"WX-DRILL-{i:04d}",
                    "staff": "drill-li",
                    "sale_key": f"drill-{i}",
                },
            )
            if status != 201:
                raise RuntimeError(f"emergency sale {i}: HTTP {status} {sale}")
            tickets += [{"id": t["id"], "credential": t["credential"]} for t in sale["tickets"]]
        past = site.ALLOTMENT - self.n + 1
        status, refused = await self.venue.call(
            "POST",
            "/api/boxoffice/sales",
            {
                "product_id": site.PRODUCT,
                "date": self.day.isoformat(),
                "quantity": past,
                "payment": "cash",
                "staff": "drill-li",
            },
        )
        r.check(
            "a sale past the allotment is refused with its reason",
            status == 409 and refused.get("code") == "ALLOTMENT_EXHAUSTED",
            f"{past} more: HTTP {status} {refused.get('code')}",
        )
        r.figures["emergency_sold_at_bridge"] = len(tickets)
        return tickets

    async def admit(self, tickets: list[dict[str, str]]) -> int:
        gates = (site.READER_GATE, site.HANDHELD_GATE)
        n = 0
        for i, t in enumerate(tickets):
            n += await self.scan(gates[i % 2], t)
        return n

    async def scan(self, gate: str, ticket: dict[str, str]) -> bool:
        if gate == site.READER_GATE:
            return (await self.venue.reader.scan(ticket["credential"])).opened
        status, shown = await self.venue.call(
            "POST",
            "/handheld/api/check",
            {"value": ticket["credential"], "medium": "qr"},
            token=self.handheld_token,
        )
        return status == 200 and shown.get("allow") is True

    # -- after -------------------------------------------------------------------------
    async def compare(self, emergency: list[dict[str, str]], admitted: int) -> None:
        r, day = self.result, self.day.isoformat()
        st = await self.venue.status()
        orders_at_bridge = st["emergency"]["orders"]
        hub_tickets = await self.hub_tickets()
        bridge_ids = {t["id"] for t in emergency} | {t["id"] for t in self.presold}
        lost_tickets = len(bridge_ids - hub_tickets.keys())
        report = await self.admin.call(
            "GET", "/api/admin/reports/daily", params={"date": day, "venue": site.VENUE}
        )
        by_channel = report["by_channel"]
        em = by_channel.get("emergency", {})
        box = by_channel.get("boxoffice", {})
        flow = await self.admin.call(
            "GET", "/api/admin/flow", params={"venue": site.VENUE, "date": day}
        )
        log = st["log"]
        hub_decisions = flow["entries"] + flow["exits"] + flow["denied"] + flow["conflicts"]
        twice = max(0, int(em.get("tickets_sold", 0)) - len(emergency))
        twice += max(0, flow["entries"] - log["admitted"]) + flow["conflicts"]
        lost = lost_tickets + max(0, log["admitted"] - flow["entries"]) + log["unsynced"]
        lost += orders_at_bridge.get("pending", 0) + orders_at_bridge.get("refused", 0)
        r.figures.update(
            lost=lost,
            twice=twice,
            emergency_orders_at_hub=em.get("orders", 0),
            emergency_tickets_at_hub=em.get("tickets_sold", 0),
            admitted_at_bridge=log["admitted"],
            decisions_at_bridge=log["decisions"],
            entries_at_hub=flow["entries"],
            decisions_at_hub=hub_decisions,
            report_by_channel={
                ch: {k: v[k] for k in ("orders", "tickets_sold", "used")}
                for ch, v in by_channel.items()
            },
        )
        r.check("lost: 0", lost == 0, f"{lost}")
        r.check("twice: 0", twice == 0, f"{twice} (hub conflicts {flow['conflicts']})")
        await self.compare_stock(len(emergency))
        r.check(
            f"day report: emergency {len(emergency)} sold and used, box office {len(self.presold)}",
            (em.get("tickets_sold"), em.get("used")) == (len(emergency), len(emergency))
            and (box.get("tickets_sold"), box.get("used")) == (len(self.presold),) * 2,
            f"emergency {em.get('tickets_sold')} sold / {em.get('used')} used, box office"
            f" {box.get('tickets_sold')} / {box.get('used')}",
        )
        r.check(
            "gate counts: hub entries = bridge admissions = tickets admitted",
            flow["entries"] == log["admitted"] == admitted and hub_decisions == log["decisions"],
            f"hub {flow['entries']} entries ({hub_decisions} decisions), bridge"
            f" {log['admitted']} admitted ({log['decisions']} decisions), {admitted} scanned in",
        )

    async def hub_tickets(self) -> dict[str, str]:
        """Every ticket of the drill venue in the hub's bridge feed: id → state."""
        url = f"{self.admin.base_url}/api/bridge/venues/{site.VENUE}/changes"
        headers = {"Authorization": f"Bearer {site.BRIDGE_TOKEN}"}
        found: dict[str, str] = {}
        cursor, more = "", True
        while more:
            async with self.admin.http.get(
                url, params={"cursor": cursor, "limit": "1000"}, headers=headers
            ) as resp:
                page = await resp.json()
            found.update({str(t["id"]): str(t["state"]) for t in page["tickets"]})
            cursor, more = page["cursor"], page["more"]
        return found

    async def compare_stock(self, emergency: int) -> None:
        r, day = self.result, self.day.isoformat()
        sold = len(self.presold) + emergency
        audit = await self.admin.call(
            "GET", "/api/admin/audit", params={"pool": site.POOL, "date": day}
        )
        (slot,) = audit["slots"]
        cells = await self.admin.call(
            "GET", "/api/admin/inventory", params={"pool": site.POOL, "date": day}
        )
        buckets = {c["bucket"]: c for c in cells["cells"]}
        available = sum(int(c["available"]) for c in cells["cells"])
        caps = await self.admin.call(
            "GET", f"/api/admin/venues/{site.VENUE}/day-cap", params={"date": day}
        )
        (cap,) = caps["caps"]
        r.figures.update(
            capacity=slot["capacity"],
            sold_at_hub=slot["sold"],
            allocated_to_orders=slot["allocated"],
            available_at_hub=available,
            emergency_bucket=buckets.get(f"emergency:{site.BRIDGE_ID}", {}).get("sold"),
            day_cap={k: cap[k] for k in ("capacity", "sold", "reserved", "available")},
        )
        r.check(
            "stock: hub inventory = capacity − sold, the orders' units agree",
            slot["capacity"] == site.CAPACITY
            and slot["sold"] == slot["allocated"] == sold
            and slot["held"] == 0
            and available == site.CAPACITY - sold
            and buckets.get(f"emergency:{site.BRIDGE_ID}", {}).get("sold") == emergency,
            f"capacity {slot['capacity']}, sold {slot['sold']} (orders {slot['allocated']}),"
            f" available {available}",
        )
        # The allotment's unsold units stay set aside in the cap until its slot ends
        # (`hub.emergency.capreserve`): not counted as sold, not on sale online either.
        unsold = site.ALLOTMENT - emergency
        r.check(
            "whole-day cap: every sale counted once, the emergency ones included, the"
            " allotment's unsold units set aside",
            cap["sold"] == sold
            and cap["reserved"] == unsold
            and cap["available"] == site.DAY_CAP - sold - unsold,
            f"cap {cap['capacity']}, counted {cap['sold']}, set aside {cap['reserved']},"
            f" left {cap['available']}",
        )

    # -- waiting ---------------------------------------------------------------------------
    async def mode_is(self, mode: str) -> bool:
        return (await self.venue.status())["mode"] == mode

    async def synced(self) -> bool:
        st = await self.venue.status()
        pending = st["emergency"]["orders"].get("pending", 0)
        return st["mode"] == "online" and st["log"]["unsynced"] == 0 and pending == 0

    async def until(self, check: Callable[[], Awaitable[bool]], what: str) -> None:
        """Poll `check` every 20 ms (the resolution of the measured times), bounded."""
        deadline = time.perf_counter() + WAIT
        while not await check():
            if time.perf_counter() > deadline:
                raise TimeoutError(f"drill: {what} took more than {WAIT:g} s")
            await asyncio.sleep(0.02)

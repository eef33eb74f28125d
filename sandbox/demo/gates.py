"""Demo step: the gates. A venue bridge with one device of each kind admits the visitors
the other channels sold, goes on through an internet outage, and syncs afterwards.

The venue (`gates_site`): a real `hardware_bridge` app with its own SQLite log, reaching
the hub through a link that can be cut (`gates_link`), and a QR reader (HTTP), a UHPPOTE
controller (UDP), a Hikvision terminal (ISAPI), a ZKTeco push terminal (iclock) and an
MQTT gate (real Mosquitto), each onboarded through the bridge's staff API.

The scenario: the tickets come from the hub itself (its bridge feed — every valid ticket
the box office, agencies, WeChat and the OTAs sold for the busy day); half go through the
gates online, the link is cut, the other half go through offline together with a ticket
the box office sold AFTER the cut (unknown to the bridge, admitted on its signed QR
alone); a ticket used at one gate is refused at another, and a refunded one everywhere.
The link comes back first as one that loses the hub's answers (the bridge must re-send:
the hub must not count twice), then whole; the summary compares the hub's redemptions
and flow counters with the bridge's log.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

from sandbox.demo.context import DemoContext, Section
from sandbox.demo.gates_site import (
    BRIDGE_TOKEN,
    MQTT_HOST,
    MQTT_PORT,
    Venue,
    onboard_all,
    start_venue,
)
from sandbox.demo.seed import SLOTS, TIMEZONE, VENUE

WAIT = 10.0  # seconds any one "until" may take (a healthy run needs well under one)


@dataclass(frozen=True, slots=True)
class Ticket:
    id: str
    order_id: str
    credential: str


class GatesStep:
    title = "Gates: venue bridge, one device of each kind, an internet outage"

    async def run(self, ctx: DemoContext) -> Section:
        section = Section(self.title)
        port = urlparse(ctx.base_url).port or 80
        started = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="tickethub-bridge-") as tmp:
            venue = await start_venue(port, ctx.busy_day, Path(tmp) / "bridge.db", ctx.http)
            try:
                await Scenario(ctx, venue, section).play()
            finally:
                await venue.close()
        section.fact("step took", f"{time.perf_counter() - started:.1f} s (loopback)")
        return section


class Scenario:
    def __init__(self, ctx: DemoContext, venue: Venue, section: Section) -> None:
        self.ctx, self.venue, self.section = ctx, venue, section
        self.admitted: set[str] = set()  # tickets that went in

    async def play(self) -> None:
        s, v = self.section, self.venue
        valid, revoked = await self.sold_tickets()
        orders = len({t.order_id for t in valid})
        s.fact(
            "tickets from the hub",
            f"{len(valid)} valid for {self.ctx.busy_day} (+{len(revoked)} refunded/cancelled),"
            f" from {orders} orders of the other channels",
        )
        s.expect("the other channels' tickets reach the venue's bridge feed", len(valid) >= 10)
        await onboard_all(v)
        pushed = {k: a.get("pushed", 0) for k, a in v.onboarded.items()}
        s.fact(
            "onboarded",
            ", ".join(
                f"{k} ({a['info']['serial']}, {pushed[k]} pushed)" for k, a in v.onboarded.items()
            ),
        )
        s.expect(
            "every device onboarded by probe → serial → attach → credentials pushed",
            all(n >= len(valid) for n in pushed.values()) and len(pushed) == len(self.gates()),
            f"{len(pushed)} devices",
        )
        if v.devices.gate is None:
            s.fact("MQTT gate", f"skipped: broker not reachable on {MQTT_HOST}:{MQTT_PORT}")
        gates = self.gates()
        half = len(valid) // 2
        online = await self.admit_all(valid[:half], gates)
        await self.until(self.synced, "the online decisions synced")
        s.expect(
            "online: every sold ticket admitted at its gate",
            online == half,
            f"{online}/{half} across {len(gates)} gates",
        )

        # -- the internet outage -----------------------------------------------------------
        v.link.set("down")
        await self.until(lambda: self.mode("offline"), "the bridge noticing the outage")
        late = await self.sell_one()
        offline = await self.admit_all(valid[half:], gates)
        late_unknown = self.venue.bridge.store.ticket(late.id) is None  # never synced down
        late_ok = await self.admit("qr", late)
        st = await v.status()
        s.fact(
            "outage",
            f"link cut; bridge {st['mode']}, {st['log']['unsynced']} decisions waiting,"
            f" {v.link.refused} connections refused",
        )
        marked = v.bridge.store.db.execute("SELECT count(*) FROM log WHERE offline = 1").fetchone()
        s.expect(
            "offline: the gates go on admitting, each decision logged as taken offline",
            offline == len(valid) - half and int(marked[0]) >= offline + 1,
            f"{offline}/{len(valid) - half}, {int(marked[0])} logged offline",
        )
        s.expect(
            "a ticket sold AFTER the outage began is admitted on its signed QR alone",
            late_ok and late_unknown,
            f"ticket {late.id}, unknown to the bridge: {late_unknown}",
        )
        await self.refusals(valid, revoked)

        # -- the link back: first losing the hub's answers, then whole -------------------
        # the offline bridge heartbeats first: the lossy link lets those answers through,
        # so the bridge sends its decisions and loses the hub's answers to them
        before = await self.flow()
        v.link.set("swallow")
        v.bridge.link.retry_now()
        await self.until(lambda: self.flow_moved(before), "an upload reaching the hub")
        v.link.set("up")
        v.bridge.link.retry_now()
        await self.until(self.synced, "every decision synced")
        await self.report(late)

    # -- tickets ---------------------------------------------------------------------------
    async def sold_tickets(self) -> tuple[list[Ticket], list[Ticket]]:
        """Every ticket of the venue as the hub's bridge feed gives it, for the busy day."""
        url = f"{self.ctx.base_url}/api/bridge/venues/{VENUE}/changes"
        headers = {"Authorization": f"Bearer {BRIDGE_TOKEN}"}
        rows: list[dict[str, Any]] = []
        cursor, more = "", True
        while more:
            async with self.ctx.http.get(
                url, params={"cursor": cursor, "limit": "1000"}, headers=headers
            ) as resp:
                page = await resp.json()
            rows += page["tickets"]
            cursor, more = page["cursor"], page["more"]
        day = self.ctx.busy_day
        mine = [r for r in rows if _day(r["valid_from"]) <= day < _day(r["valid_until"])]
        pick = [Ticket(r["id"], r["order_id"], r["credential"]) for r in mine]
        valid = [t for t, r in zip(pick, mine, strict=True) if r["state"] == "valid"]
        revoked = [t for t, r in zip(pick, mine, strict=True) if r["state"] == "revoked"]
        return valid, revoked

    async def sell_one(self) -> Ticket:
        """The box office sells a ticket while the venue is cut off."""
        body = {
            "travel_date": self.ctx.busy_day.isoformat(),
            "slot": SLOTS[1][0],
            "lines": [{"product_id": "adult", "quantity": 1}],
            "contact": {"name": "窗口售票", "phone": "13800000000"},
            "confirm": True,
        }
        answer = await self.ctx.boxoffice("POST", "/orders", body, key="gates-during-outage")
        self.ctx.record_order(answer, body["lines"])
        if answer.code != "ACCEPTED":
            raise RuntimeError(f"the box office could not sell during the outage: {answer.body}")
        t = answer.order["tickets"][0]
        return Ticket(str(t["id"]), str(answer.order["id"]), str(t["credential"]))

    # -- the gates ---------------------------------------------------------------------------
    def gates(self) -> list[str]:
        return ["qr", "wg", "hik", "zk"] + (["mq"] if self.venue.devices.gate else [])

    async def admit_all(self, tickets: list[Ticket], gates: list[str]) -> int:
        n = 0
        for i, t in enumerate(tickets):
            if await self.admit(gates[i % len(gates)], t):
                n += 1
        await self.devices_report()
        return n

    async def admit(self, gate: str, t: Ticket) -> bool:
        """One visitor at one gate, by the medium that device reads."""
        d = self.venue.devices
        if gate == "qr":
            ok = (await d.reader.scan(t.credential)).opened
        elif gate == "hik":
            ok = await d.terminal.present_qr(t.credential)
        elif gate == "mq":
            assert d.gate is not None
            ok = (await d.gate.scan(t.credential)).opened
        else:
            card = self.card_of(t)
            ok = d.controller.swipe(card) if gate == "wg" else d.zk.present(str(card))
        if ok:
            self.admitted.add(t.id)
        return ok

    def card_of(self, t: Ticket) -> int:
        row = self.venue.bridge.store.ticket(t.id)
        return int(row["card_no"]) if row is not None else 0

    async def devices_report(self) -> None:
        """What devices do on their own timers: the push terminal uploads its log, the
        controller's events are collected (the listener got them; catch-up adds none)."""
        await self.venue.devices.zk.sync()
        drv = self.venue.bridge.host.drivers["uhppote"]
        device = self.venue.bridge.host.device("wg-north")
        if device is not None:
            await drv.catch_up(device)  # type: ignore[attr-defined]

    async def refusals(self, valid: list[Ticket], revoked: list[Ticket]) -> None:
        s = self.section
        used = valid[0]  # the first visitor, admitted online at the QR reader (gate 0)
        again = await self.admit("hik", used)
        s.expect(
            "double use: a ticket used at the QR reader is refused at the Hikvision terminal",
            not again,
        )
        if revoked:
            refunded = await self.admit("qr", revoked[0])
            s.expect("a refunded ticket is refused at the gate", not refunded)

    # -- the hub's side ------------------------------------------------------------------------
    async def flow(self) -> dict[str, Any]:
        params = {"venue": VENUE, "date": self.ctx.busy_day.isoformat()}
        return dict(await self.ctx.admin.call("GET", "/api/admin/flow", params=params))

    async def flow_moved(self, before: dict[str, Any]) -> bool:
        now = await self.flow()
        return (now["entries"], now["denied"]) != (before["entries"], before["denied"])

    async def report(self, late: Ticket) -> None:
        s, v = self.section, self.venue
        st = await v.status()
        flow = await self.flow()
        log = st["log"]
        at_hub = flow["entries"] + flow["exits"] + flow["denied"] + flow["conflicts"]
        sync = st["sync"]
        s.fact(
            "bridge log",
            f"{log['decisions']} decisions ({log['admitted']} admitted), {_by_device(v)}",
        )
        s.fact("refused at the gates", _refusals(v))
        s.fact(
            "sync",
            f"{sync['uploaded']} uploaded, {sync['duplicates']} re-sent and recognised,"
            f" {v.link.swallowed} hub answers lost on the way",
        )
        s.fact(
            "in park (hub flow counters)",
            f"{flow['in_park']} — entries {flow['entries']}, denied {flow['denied']},"
            f" conflicts {flow['conflicts']}",
        )
        s.expect(
            "after the outage every decision reached the hub exactly once",
            log["unsynced"] == 0 and at_hub == log["decisions"],
            f"hub {at_hub} vs bridge {log['decisions']}",
        )
        s.expect(
            "answers lost on the way: the re-sent decisions were not counted twice",
            v.link.swallowed >= 1 and st["sync"]["duplicates"] >= 1 and at_hub == log["decisions"],
            f"{st['sync']['duplicates']} duplicates",
        )
        s.expect(
            "in-park count = visitors admitted",
            flow["in_park"] == len(self.admitted) == log["admitted"] and flow["conflicts"] == 0,
            f"{flow['in_park']} vs {len(self.admitted)}",
        )
        s.expect("the bridge is back online", st["mode"] == "online")
        order = await self.ctx.boxoffice("GET", f"/orders/{late.order_id}")
        s.expect(
            "the ticket sold during the outage is redeemed at the hub",
            order.order.get("state") == "redeemed",
            str(order.order.get("state")),
        )

    # -- waiting ---------------------------------------------------------------------------
    async def synced(self) -> bool:
        st = await self.venue.status()
        return st["mode"] == "online" and st["log"]["unsynced"] == 0

    async def mode(self, mode: str) -> bool:
        return (await self.venue.status())["mode"] == mode

    async def until(self, check: Callable[[], Awaitable[bool]], what: str) -> None:
        """Poll `check` until true; a bounded wait that fails the demo if exceeded."""
        deadline = asyncio.get_running_loop().time() + WAIT
        while not await check():
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"gates: {what} took more than {WAIT} s")
            await asyncio.sleep(0.05)


def _day(iso: str) -> date:
    return datetime.fromisoformat(iso).astimezone(ZoneInfo(TIMEZONE)).date()


def _by_device(v: Venue) -> str:
    """Decisions per device and the medium each read (from the bridge's own log)."""
    rows = v.bridge.store.db.execute(
        "SELECT device, medium, count(*) AS n FROM log GROUP BY device, medium ORDER BY device"
    ).fetchall()
    return ", ".join(f"{r['device'] or 'staff'} {r['n']} by {r['medium']}" for r in rows)


def _refusals(v: Venue) -> str:
    rows = v.bridge.store.db.execute(
        "SELECT device, code, count(*) AS n FROM log WHERE allow = 0 GROUP BY device, code"
        " ORDER BY device, code"
    ).fetchall()
    return ", ".join(f"{r['device']} {r['code']} ×{r['n']}" for r in rows) or "none"

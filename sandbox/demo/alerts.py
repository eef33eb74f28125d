"""Demo steps: a crowd alert. Before the gate rush an in-park rule is written (admin API,
as the console's rule form does) with the sandbox WeCom robot as its destination; the
rush raises in-park over the threshold and the alert opens; a person acknowledges it;
visitors leave (the bridge's exit records) and it clears. The robot must receive exactly
one opening and one clearing message — the demo's own expectations.

The venue's day is the busy day (the gates run on a bridge clock moved there, see
`gates_site.bridge_clock`), while the demo hub runs on real time. The in-park rule reads
the flow counters of the hub clock's today, so the demo turns the hub's own evaluation off
(``alert_eval_seconds=0``) and runs `hub.alerts.AlertService` on the venue's clock — the
evaluation's clock and interval are injected for exactly this. It becomes the hub's
``alerts`` service, so the console and the admin API see the same day.

The runner starts the robot before the hub (`start_sandbox`: the hub's
``TICKETHUB_ALERT_DESTINATIONS`` point at it), `attach`es the hub once it runs (and a
demo staff account for the console), and `stop`s both at the end.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from hub.alerts import AlertService
from hub.clock import SystemClock
from hub.console.roles import Role
from hub.console.staff import StaffService
from sandbox.alerts import WeComRobot
from sandbox.demo.context import DemoContext, Section
from sandbox.demo.gates_site import BRIDGE_TOKEN, bridge_clock
from sandbox.demo.seed import VENUE

if TYPE_CHECKING:
    from hub.api.app import Hub

DESTINATION = "demo-wecom"
RULE = "园区承载 · crowd"
MAXIMUM = 100  # the venue's safe maximum in the rule; the rush admits ~80
OPEN_AT, CLEAR_BELOW = 70.0, 50.0
EVAL_SECONDS = 0.2
WAIT = 10.0  # seconds any one wait may take (a healthy run needs well under one)
DEMO_USER = "demo"


@dataclass
class DemoAlerts:
    """The robot, the hub it belongs to, the venue-day evaluation and the demo login."""

    robot: WeComRobot
    hub: Hub | None = None
    service: AlertService | None = None
    password: str = field(default_factory=lambda: secrets.token_urlsafe(9))

    @property
    def destinations(self) -> dict[str, dict[str, Any]]:
        return {DESTINATION: {"sink": "wecom", "url": self.robot.url, "msgtype": "markdown"}}

    async def attach(self, hub: Hub) -> str:
        """The running hub; creates the console's demo account (a supervisor). Returns
        the username."""
        self.hub = hub
        staff = StaffService(hub.engine, hub.clock)
        await staff.add(DEMO_USER, self.password, Role.supervisor.value, actor="demo")
        return DEMO_USER

    async def evaluate_on(self, day: date) -> None:
        """Evaluate the rules on the venue's clock, ``day`` (the hub's own evaluation is
        off); the hub's ``alerts`` service becomes this one."""
        assert self.hub is not None, "attach the hub first"
        hub = self.hub
        self.service = AlertService(
            hub.engine,
            clock=bridge_clock(day),
            enqueue=hub.outbox.enqueue,
            notify=hub.outbox.notify,
            destinations=hub.alerts.destinations,
            every_seconds=EVAL_SECONDS,
        )
        hub.alerts = self.service
        await self.service.start()

    async def stop(self) -> None:
        if self.service is not None:
            await self.service.stop()
        await self.robot.stop()


_RUNNING: dict[int, DemoAlerts] = {}  # hub port → its alerts, for the steps to find


async def start_sandbox(hub_port: int) -> DemoAlerts:
    robot = WeComRobot(SystemClock(), key=secrets.token_hex(8))
    await robot.start()
    running = DemoAlerts(robot)
    _RUNNING[hub_port] = running
    return running


def _title(message: dict[str, Any]) -> str:
    """A robot message's first line without its markdown (``**<font …>[告警] …</font>**``)."""
    first = str(message.get("markdown", {}).get("content", "")).split("\n", 1)[0]
    return re.sub(r"<[^>]*>|\*\*", "", first)


def _running(ctx: DemoContext) -> DemoAlerts | None:
    return _RUNNING.get(int(ctx.base_url.rsplit(":", 1)[1]))


async def _until(check: Any, what: str) -> None:
    try:
        async with asyncio.timeout(WAIT):
            while not await check():
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise TimeoutError(f"alerts: {what} took more than {WAIT} s") from None


class CrowdRuleStep:
    title = "Alerts: an in-park rule to the WeCom robot, before the gate rush"

    async def run(self, ctx: DemoContext) -> Section:
        section = Section(self.title)
        alerts = _running(ctx)
        if alerts is None or alerts.hub is None:
            section.expect("the sandbox WeCom robot runs next to the hub", False, "not started")
            return section
        body = {
            "name": RULE,
            "kind": "in_park_percent",
            "params": {"venue_id": VENUE, "maximum": MAXIMUM},
            "open_at": OPEN_AT,
            "clear_below": CLEAR_BELOW,
            "destinations": [DESTINATION],
            "remind_seconds": 900,
        }
        rule = await ctx.admin.call("POST", "/api/admin/alerts/rules", json=body)
        await alerts.evaluate_on(ctx.busy_day)
        section.fact(
            "rule",
            f"{RULE}: in park ≥ {OPEN_AT:g} % of {MAXIMUM} opens, < {CLEAR_BELOW:g} % clears,"
            f" to {DESTINATION} (sandbox WeCom robot {alerts.robot.base_url})",
        )
        section.fact("evaluation", f"every {EVAL_SECONDS:g} s on the venue's day {ctx.busy_day}")
        section.expect("the rule is accepted", bool(rule.get("id")), f"rule {rule.get('id')}")
        return section


class CrowdAlertStep:
    title = "Alerts: the gate rush raises the crowd alert, visitors leaving clear it"

    async def run(self, ctx: DemoContext) -> Section:
        section = Section(self.title)
        alerts = _running(ctx)
        if alerts is None or alerts.service is None:
            section.expect("the crowd rule was set up before the rush", False, "not started")
            return section
        robot = alerts.robot

        async def mine(state: str) -> list[dict[str, Any]]:
            found = await ctx.admin.call("GET", "/api/admin/alerts", params={"state": state})
            return [a for a in found["alerts"] if a["rule_name"] == RULE]

        async def opened() -> bool:
            return bool(await mine("open"))

        await _until(opened, "the crowd alert opening")
        [alert] = await mine("open")
        section.fact("opened", f"alert #{alert['id']}: {alert['detail']}")
        note = "东门分流，暂停团队入园 · east gate split, groups held"
        await ctx.admin.call(
            "POST", f"/api/admin/alerts/{alert['id']}/ack", json={"by": DEMO_USER, "note": note}
        )
        inside = int((await self.flow(ctx))["in_park"])
        leaving = max(0, inside - int(MAXIMUM * CLEAR_BELOW / 100) + 1)
        await self.exits(ctx, leaving)

        async def resolved() -> bool:
            return any(a["id"] == alert["id"] for a in await mine("resolved"))

        await _until(resolved, "the crowd alert clearing")

        async def both_sent() -> bool:
            return len(robot.received) >= 2

        await _until(both_sent, "the robot receiving the opening and the clearing message")
        titles = [_title(m) for m in robot.received]
        section.fact("visitors left", f"{leaving} (in park {inside} → {inside - leaving})")
        section.fact("WeCom robot", "; ".join(titles))
        everything = await mine("open") + await mine("acknowledged") + await mine("resolved")
        section.expect(
            "the gate rush raised exactly one in-park alert, acknowledged with a note",
            len(everything) == 1 and everything[0]["ack_note"] == note,
            f"{len(everything)} alert(s)",
        )
        section.expect(
            "visitors leaving cleared it (below the clearing level, not just the threshold)",
            everything[0]["state"] == "resolved",
            everything[0]["state"],
        )
        opening = [t for t in titles if "[告警]" in t]
        clearing = [t for t in titles if "[已恢复]" in t]
        section.expect(
            "the WeCom robot received exactly one opening and one clearing message",
            len(opening) == 1 and len(clearing) == 1 and len(titles) == 2 and not robot.refused,
            f"{len(titles)} message(s), {len(robot.refused)} refused",
        )
        return section

    async def flow(self, ctx: DemoContext) -> dict[str, Any]:
        params = {"venue": VENUE, "date": ctx.busy_day.isoformat()}
        return dict(await ctx.admin.call("GET", "/api/admin/flow", params=params))

    async def exits(self, ctx: DemoContext, n: int) -> None:
        """The bridge's records of ``n`` visitors leaving by the west gate's exit reader,
        uploaded as the bridge uploads its log (the venue's day, its clock)."""
        used = await self.used_tickets(ctx, n)
        at = bridge_clock(ctx.busy_day).now().isoformat()
        records = [
            {
                "id": f"demo-exit-{t}",
                "ticket_id": t,
                "gate": "west",
                "device": "zk-west",
                "medium": "qr",
                "direction": "out",
                "at": at,
                "accepted": True,
            }
            for t in used
        ]
        headers = {"Authorization": f"Bearer {BRIDGE_TOKEN}"}
        url = f"{ctx.base_url}/api/bridge/venues/{VENUE}/redemptions"
        body = {"bridge": "huangshan-east", "redemptions": records}
        async with ctx.http.post(url, json=body, headers=headers) as resp:
            answer = await resp.json()
            if resp.status != 200 or answer.get("counted") != len(records):
                raise RuntimeError(f"the exits upload was refused: {resp.status} {answer}")

    async def used_tickets(self, ctx: DemoContext, n: int) -> list[str]:
        """``n`` tickets that went in (the venue's bridge feed, state ``used``)."""
        url = f"{ctx.base_url}/api/bridge/venues/{VENUE}/changes"
        headers = {"Authorization": f"Bearer {BRIDGE_TOKEN}"}
        latest: dict[str, str] = {}
        cursor, more = "", True
        while more:
            params = {"cursor": cursor, "limit": "1000"}
            async with ctx.http.get(url, params=params, headers=headers) as resp:
                page = await resp.json()
            latest.update({t["id"]: t["state"] for t in page["tickets"]})
            cursor, more = page["cursor"], page["more"]
        used = sorted(t for t, state in latest.items() if state == "used")
        if len(used) < n:
            raise RuntimeError(f"only {len(used)} tickets went in; {n} should leave")
        return used[:n]

"""An in-park alert in a real browser (Debian's chromium through Playwright): a supervisor
writes the rule in the console, routed to the sandbox WeCom robot; bridge uploads of
entries drive in-park over the threshold and the alert appears on the open page (SSE);
it is acknowledged with a note; uploads of exits drive in-park below the clearing level
and it leaves the open page for the history. The robot got exactly one opening message
and one clearing message.

The hub evaluates by itself every 0.1 s of real time on a fixed clock (no reminder can
fall due); every wait is on a condition with a bound, never a sleep.
Screenshots: ``$TICKETHUB_ARTIFACTS/console/alert-*.png``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import expect
from sqlalchemy import select

from hub.api.app import HUB, create_app
from hub.clock import FixedClock
from hub.console.staff import StaffService
from hub.storage.tables import OutboxRow
from hub.testing.databases import SchemaTemplates
from sandbox.alerts import WeComRobot
from tests.console.conftest import LiveHub
from tests.console.kit import PASSWORD, seed_staff
from tests.support import T0, order, seed, settings

BRIDGE = {"Authorization": "Bearer bridge-v1"}
WAIT_MS = 15_000  # a bound on each wait in the page (a healthy run needs about a second)
OUTBOX = OutboxRow.__table__.c


class AlertHub(LiveHub):
    robot: WeComRobot
    http: aiohttp.ClientSession
    tickets: list[str]


@pytest.fixture
async def alert_hub(tmp_path: Path, schema_templates: SchemaTemplates) -> AsyncIterator[AlertHub]:
    """A hub on port 0 whose alert destination ``ops-wecom`` is the sandbox WeCom robot,
    evaluating every 0.1 s, with 9 tickets sold for tomorrow; its clock is then moved to
    tomorrow (the day the bridge admits them)."""
    clock = FixedClock(T0)
    robot = WeComRobot(clock)
    await robot.start()
    db_url = await schema_templates.sqlite_url(tmp_path / "alerts.db")
    app = create_app(
        settings(
            db_url,
            alert_destinations={"ops-wecom": {"sink": "wecom", "url": robot.url}},
            alert_eval_seconds=0.1,
            outbox_workers=1,
            outbox_poll_seconds=0.05,
            bridge_tokens={"v1": "bridge-v1"},
        ),
        clock=clock,
    )
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    base = str(server.make_url("/"))
    try:
        async with aiohttp.ClientSession(base_url=base) as http:
            await seed(http, capacity=20)  # type: ignore[arg-type]
            status, body = await order(http, "crowd", quantity=9, confirm=True)  # type: ignore[arg-type]
            assert status == 201, body
            clock.advance(seconds=86_400)
            hub = app[HUB]
            await seed_staff(StaffService(hub.engine, clock))
            live = AlertHub(base + "console/", hub, clock)
            live.robot, live.http = robot, http
            live.tickets = [t["id"] for t in body["order"]["tickets"]]
            yield live
    finally:
        await server.close()
        await robot.stop()


async def _upload(hub: AlertHub, tickets: list[str], direction: str) -> None:
    """What the venue's bridge sends after its gates decided (`hardware_bridge.sync`)."""
    at = hub.clock.now().isoformat()
    items = [
        {
            "id": f"{direction}-{t}",
            "ticket_id": t,
            "gate": "east",
            "device": "qr-east",
            "direction": direction,
            "at": at,
            "accepted": True,
        }
        for t in tickets
    ]
    async with hub.http.post(
        "/api/bridge/venues/v1/redemptions",
        json={"bridge": "b1", "redemptions": items},
        headers=BRIDGE,
    ) as resp:
        assert resp.status == 200, await resp.text()
        assert (await resp.json())["counted"] == len(tickets)


async def _received(robot: WeComRobot, n: int) -> list[str]:
    """The robot's messages once it has ``n`` (bounded)."""
    async with asyncio.timeout(WAIT_MS / 1000):
        while len(robot.received) < n:
            await asyncio.sleep(0.05)
    return [str(m["markdown"]["content"]) for m in robot.received]


async def test_in_park_alert_opens_is_acknowledged_and_clears(
    browser: Any, alert_hub: AlertHub, artifacts: Path
) -> None:
    hub, robot = alert_hub, alert_hub.robot
    page = await browser.new_page(viewport={"width": 1280, "height": 800})
    page.set_default_timeout(WAIT_MS)
    expect.set_options(timeout=WAIT_MS)
    try:
        await _alert_flow(page, hub, robot, artifacts)
    finally:
        expect.set_options(timeout=5_000)  # Playwright's default, for the other tests
        await page.close()


async def _alert_flow(page: Any, hub: AlertHub, robot: WeComRobot, artifacts: Path) -> None:
    await page.goto(hub.url + "login")
    await page.fill("input[name=username]", "super")
    await page.fill("input[name=password]", PASSWORD)
    await page.click("#sign-in")
    await page.wait_for_selector("#figures")

    # the rule: in-park >= 80 % of 10 opens, below 50 % clears, to the WeCom robot
    await page.click("nav a[href='/console/alerts/rules']")
    await page.click("#new-rule")
    await page.fill("input[name=name]", "crowd")
    # the kind's parameters follow the kind (htmx swaps them in)
    await page.select_option("select[name=kind]", "dead_letters")
    await expect(page.locator("input[name=param_partner]")).to_be_visible()
    await expect(page.locator("input[name=param_maximum]")).to_have_count(0)
    await page.select_option("select[name=kind]", "in_park_percent")
    await expect(page.locator("input[name=param_maximum]")).to_be_visible()
    await expect(page.locator("input[name=param_partner]")).to_have_count(0)
    await page.select_option("select[name=param_venue_id]", "v1")
    await page.fill("input[name=param_maximum]", "10")
    await page.fill("input[name=open_at]", "80")
    await page.fill("input[name=clear_below]", "50")
    await page.check("input[name=destinations][value=ops-wecom]")
    await page.screenshot(path=str(artifacts / "alert-rule-form.png"), full_page=True)
    await page.click("#save-rule")
    await expect(page.locator("#alert-rules tbody tr")).to_have_count(1)
    await expect(page.locator("#alert-rules")).to_contain_text("ops-wecom")

    await page.click("nav a[href='/console/alerts']")
    await expect(page.locator("#no-alerts")).to_be_visible()
    await _upload(hub, hub.tickets, "in")  # 9 inside: 90 %
    row = page.locator("#alerts-table tr[data-state=open]")
    await expect(row).to_have_count(1)  # the live page shows it, no reload
    await expect(row).to_contain_text("crowd")
    await expect(row).to_contain_text("9 / 10")
    await page.screenshot(path=str(artifacts / "alert-open.png"), full_page=True)
    [opening] = await _received(robot, 1)
    assert "[告警] crowd" in opening and "9 / 10" in opening

    await row.locator("a").first.click()
    await page.fill("#ack-form textarea[name=note]", "东门限流 · east gate queue split")
    await page.click("#ack")
    await expect(page.locator("#alert-state")).to_have_attribute("data-state", "acknowledged")
    await expect(page.locator("#alert-ack")).to_contain_text("super")
    await expect(page.locator("#alert-ack")).to_contain_text("east gate queue split")

    await page.click("nav a[href='/console/alerts']")
    await expect(page.locator("#alerts-table tr[data-state=acknowledged]")).to_have_count(1)
    await _upload(hub, hub.tickets[:5], "out")  # 4 inside: 40 %, below 50 %
    await expect(page.locator("#no-alerts")).to_be_visible()
    await page.click("a[href='/console/alerts/history']")
    resolved = page.locator("#alert-history tbody tr")
    await expect(resolved).to_have_count(1)
    await expect(resolved).to_contain_text("crowd")
    await expect(resolved).to_contain_text("east gate queue split")
    await page.screenshot(path=str(artifacts / "alert-history.png"), full_page=True)

    opening, clearing = await _received(robot, 2)
    assert "[告警] crowd" in opening and "[已恢复] crowd" in clearing and "4 / 10" in clearing
    # nothing else is on its way: the outbox holds exactly those two messages, both sent
    async with hub.hub.engine.connect() as conn:
        stmt = select(OUTBOX.kind, OUTBOX.state).where(OUTBOX.kind.startswith("alert."))
        rows = (await conn.execute(stmt)).all()
    assert sorted(tuple(r) for r in rows) == [("alert.opened", "done"), ("alert.resolved", "done")]
    assert len(robot.received) == 2 and robot.refused == []

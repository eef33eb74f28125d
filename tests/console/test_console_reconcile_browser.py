"""Day-end reconciliation in a real browser (Debian's chromium through Playwright), against
a hub selling through the WeChat simulator: a supervisor reads the day report of the day's
sales, downloads its CSV, has WeChat's bill (with one payment the simulator was told to
misstate) fetched from the page, acknowledges then resolves the discrepancy with notes,
and finds both in the audit log; a viewer sees the list but cannot resolve (403).
Screenshot: ``$TICKETHUB_ARTIFACTS/console/reconcile.png``."""

from __future__ import annotations

import csv
import io
from contextlib import AsyncExitStack
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

from hub.console.staff import StaffService
from hub.reconcile.export import COLUMNS
from hub.reconcile.wechat_bill import CHINA
from tests.console.kit import PASSWORD, seed_staff
from tests.wechat.kit import PRICE, SLOT, World, start

#: a POST from the page's own script, with the CSRF token the page carries
POST_FROM_PAGE = """async (url) => {
  const body = new URLSearchParams({note: "from the page"});
  body.set("csrf_token", document.querySelector("input[name=csrf_token]").value);
  const r = await fetch(url, {method: "POST", body, redirect: "manual"});
  return r.status;
}"""


async def _sell(w: World, n: int) -> list[str]:
    """`n` paid WeChat orders of one adult ticket each: their out_trade_no."""
    mp = await w.visitor("o-console-recon")
    out = []
    for i in range(n):
        created = await mp.order(f"ck-console-recon-{i}", "adult", w.day, SLOT, 1)
        assert created.status == 201, created
        await (await w.pay(created)).wait()
        out.append(created.body["order"]["out_trade_no"])
    return out


async def _sign_in(page: Any, base: str, username: str) -> None:
    await page.goto(base + "login")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("#sign-in")
    await page.wait_for_selector("#current-user")


async def test_supervisor_reads_exports_and_reconciles_a_day(
    browser: Any, aiohttp_client: Any, sqlite_url: str, artifacts: Path
) -> None:
    async with AsyncExitStack() as stack:
        w = await start(aiohttp_client, sqlite_url, stack)
        await seed_staff(StaffService(w.hub.engine, w.hub.clock))
        base = str(w.client.server.make_url("/console/"))
        paid = await _sell(w, 3)
        day = datetime.now(CHINA).date()  # the sales' day (the hub runs on the real clock)

        page = await browser.new_page(viewport={"width": 1400, "height": 1000})
        await _sign_in(page, base, "super")
        await page.goto(f"{base}reconcile/report?date={day}")
        row = page.locator('#by-channel tr[data-channel="wechat"]')
        assert await row.locator(".orders").text_content() == "3"
        assert await row.locator(".gross").text_content() == f"{3 * PRICE / 100:.2f}"
        assert await page.text_content("#totals .net") == f"{3 * PRICE / 100:.2f}"
        async with page.expect_download() as info:
            await page.click("#export-csv")
        download = await info.value
        assert download.suggested_filename == f"daily-{day}.csv"
        data = Path(await download.path()).read_bytes()
        rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
        assert rows[0] == ["date", *COLUMNS]  # the export of the CLI and the admin API
        wechat = [r for r in rows if r[2] == "wechat"]
        assert [r[1:7] for r in wechat] == [["v1", "wechat", "adult", SLOT, "3", "3"]]
        assert wechat[0][-3:] == ["300.00", "0.00", "300.00"]

        # WeChat bills the second payment 1.00 yuan short; its bill exists from 10:00
        # tomorrow (the simulator's clock)
        w.sim.bills.misstate(paid[1], PRICE - 100)
        tomorrow_ten = datetime.combine(day + timedelta(days=1), time(10, 1), CHINA)
        w.sim.clock.advance(tomorrow_ten.timestamp() - w.sim.clock.now())
        await page.goto(f"{base}reconcile/discrepancies")
        await page.fill("#fetch-form input[name=date]", day.isoformat())
        await page.click("#fetch-wechat")
        notice = await page.text_content("#reconcile-notice") or ""
        assert notice == f"已导入 wechat {day} 的对账单：3 行，新增差异 1 条。"  # zh_CN first
        row = page.locator("#discrepancies tbody tr[data-state=open]")
        assert await row.count() == 1
        assert f"pay:{paid[1]}" in (await row.text_content() or "")
        assert await row.locator(".hub-amount").text_content() == "100.00"
        assert await row.locator(".partner-amount").text_content() == "99.00"
        disc_id = await row.get_attribute("data-id")

        await row.locator("input[name=note]").fill("asked WeChat support")
        await row.locator(".ack-button").click()
        row = page.locator(f'#discrepancies tr[data-id="{disc_id}"]')
        await page.wait_for_selector(
            f'#discrepancies tr[data-id="{disc_id}"][data-state=acknowledged]'
        )
        await row.locator("input[name=note]").fill("short payment refunded by WeChat")
        await row.locator(".resolve-button").click()
        await page.wait_for_selector(f'#discrepancies tr[data-id="{disc_id}"][data-state=resolved]')
        notes = await row.locator(".resolution").text_content() or ""
        assert "asked WeChat support" in notes and "short payment refunded by WeChat" in notes
        await page.screenshot(path=str(artifacts / "reconcile.png"), full_page=True)

        await page.goto(f"{base}audit")
        audit = await page.text_content("main") or ""
        for action in ("statement.fetch", "discrepancy.ack", "discrepancy.resolve"):
            assert action in audit, action
        assert "short payment refunded by WeChat" in audit

        viewer = await browser.new_page()
        await _sign_in(viewer, base, "watch")
        await viewer.goto(f"{base}reconcile/discrepancies?state=resolved")
        assert await viewer.locator(f'#discrepancies tr[data-id="{disc_id}"]').count() == 1
        assert await viewer.locator(".resolve-button").count() == 0
        assert await viewer.locator("#fetch-form").count() == 0
        url = f"{base}reconcile/discrepancies/{disc_id}/resolve"
        assert await viewer.evaluate(POST_FROM_PAGE, url) == 403

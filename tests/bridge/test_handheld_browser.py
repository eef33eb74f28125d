"""The handheld checking page in a real browser (Playwright driving Debian's chromium)
against a real bridge served over HTTP, synced to an in-process hub through a link the
test cuts: keyboard-wedge scans, a typed ID number, the camera path's decoder, manual
admission with the hub unreachable, and what reaches the hub once the link is back."""

from __future__ import annotations

import base64
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import segno
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from hardware_bridge.transport import HubUnavailable
from hub.storage.tables import RedemptionRow
from tests.bridge.handheld_kit import PIN, Site, handheld_site
from tests.browser import artifacts_dir, chromium
from tests.support import ADMIN, TOMORROW, hub_of, id_number, order

HOLDER = id_number("19900307", 123)
BOUND_MS = 15_000  # a bound against hanging, not a speed assertion


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    async with chromium() as launched:
        yield launched


async def _sell(hub: TestClient, key: str, **over: Any) -> dict[str, Any]:
    status, body = await order(hub, key, confirm=True, **over)
    assert status == 201, body
    return body["order"]


async def _signed_in(browser: Any, site: Site, staff: str = "li.wei") -> Any:
    page = await browser.new_page(viewport={"width": 400, "height": 760}, locale="zh-CN")
    # the page's timers on the test's clock: a verdict stays up until the test taps it
    # (on a busy machine the 2.5 s auto-hide could otherwise beat the assertions)
    await page.clock.install()
    await page.goto(site.url + "/handheld/")
    await page.fill("#staff", staff)
    await page.fill("#gate", "east")
    await page.fill("#pin", PIN)
    await page.click("button[type=submit]")
    await page.wait_for_selector("#desk:not([hidden])", timeout=BOUND_MS)
    return page


async def _verdict(page: Any) -> dict[str, str]:
    await page.wait_for_selector("#result:not([hidden])", timeout=BOUND_MS)
    got: dict[str, str] = await page.evaluate(
        """() => { const r = document.getElementById("result");
        return {cls: r.className, code: r.dataset.code,
                zh: document.getElementById("result-zh").textContent,
                en: document.getElementById("result-en").textContent,
                elements: String(r.querySelectorAll("*:not(p)").length)}; }"""
    )
    return got


async def _dismiss(page: Any) -> None:
    await page.click("#result")
    await page.wait_for_selector("#result", state="hidden", timeout=BOUND_MS)


async def _wedge(page: Any, text: str) -> dict[str, str]:
    """What a scanner in keyboard-wedge mode does: types the code, then Enter."""
    await page.focus("#scan")
    await page.keyboard.type(text)
    await page.keyboard.press("Enter")
    return await _verdict(page)


async def _manual_rows(hub: TestClient) -> list[Any]:
    async with hub_of(hub).engine.connect() as conn:
        red = RedemptionRow.__table__
        return (await conn.execute(select(red).where(red.c.kind == "manual"))).all()


async def test_scans_turn_the_screen_green_or_red_in_chinese(
    hub: TestClient, tmp_path: Path, browser: Any
) -> None:
    sold = await _sell(hub, "o1")
    named = await _sell(
        hub,
        "o2",
        product="realname",
        visitors=[{"name": "张三", "id_type": "id_card", "id_number": HOLDER}],
    )
    shots = artifacts_dir("bridge")
    async with handheld_site(hub, tmp_path) as site:
        page = await _signed_in(browser, site)
        await page.screenshot(path=str(shots / "handheld-desk.png"), full_page=True)
        qr = sold["tickets"][0]["credential"]

        green = await _wedge(page, qr)
        assert green["cls"] == "allow" and green["zh"] == "验证通过，请入园", green
        await page.screenshot(path=str(shots / "handheld-green.png"))
        await _dismiss(page)
        assert await page.evaluate("document.activeElement.id") == "scan"  # ready for the next

        red = await _wedge(page, qr)  # the same ticket again
        assert red["cls"] == "deny" and red["code"] == "ENTRIES_EXHAUSTED", red
        assert "重复使用" in red["zh"]
        await page.screenshot(path=str(shots / "handheld-red.png"))
        await _dismiss(page)

        unknown = await _wedge(page, "<b>PAPER-0001</b>")
        assert (unknown["cls"], unknown["code"]) == ("deny", "UNKNOWN_TICKET"), unknown
        assert unknown["elements"] == "0"  # text only: nothing from a scan becomes markup
        await _dismiss(page)

        await page.fill("#idno", HOLDER)  # typed by hand
        await page.click("#check-id")
        by_id = await _verdict(page)
        assert (by_id["cls"], by_id["code"]) == ("allow", ""), by_id
        await _dismiss(page)
        await page.fill("#idno", HOLDER[:17] + ("0" if HOLDER[17] != "0" else "1"))
        await page.click("#check-id")
        bad = await _verdict(page)
        assert (bad["cls"], bad["code"]) == ("deny", "INVALID_ID_NUMBER"), bad
        await _dismiss(page)

        # every decision went through the bridge's own decision, as this handheld's device
        rows = site.bridge.store.db.execute(
            "SELECT device, gate, ticket_id, allow FROM log WHERE kind = 'scan' ORDER BY n"
        ).fetchall()
        assert [tuple(r) for r in rows] == [
            ("handheld-li.wei", "east", sold["tickets"][0]["id"], 1),
            ("handheld-li.wei", "east", sold["tickets"][0]["id"], 0),
            ("handheld-li.wei", "east", "", 0),
            ("handheld-li.wei", "east", named["tickets"][0]["id"], 1),
        ]
        await site.bridge.link.sync_once()  # and reach the hub like any gate's
        async with hub_of(hub).engine.connect() as conn:
            red_t = RedemptionRow.__table__
            uploaded = (await conn.execute(select(red_t.c.device, red_t.c.counted))).all()
        assert sorted(uploaded) == sorted(
            [("handheld-li.wei", True)] * 2 + [("handheld-li.wei", False)] * 2
        )


async def test_the_camera_path_decodes_a_qr_image_in_the_page(
    hub: TestClient, tmp_path: Path, browser: Any
) -> None:
    """Playwright has no real camera: the page's own decoder (the vendored jsQR) reads a
    QR image inside the page, and a photo of it goes through to a decision."""
    sold = await _sell(hub, "o1")
    qr = sold["tickets"][0]["credential"]
    png = io.BytesIO()
    segno.make(qr, error="m").save(png, kind="png", scale=6, border=4)
    async with handheld_site(hub, tmp_path) as site:
        page = await _signed_in(browser, site)
        data_url = "data:image/png;base64," + base64.b64encode(png.getvalue()).decode()
        decoded = await page.evaluate("(u) => window.handheld.decodeImage(u)", data_url)
        assert decoded == qr
        photo = tmp_path / "photo.png"
        photo.write_bytes(png.getvalue())
        await page.set_input_files("#photo", str(photo))  # "拍照识别": the phone's camera app
        verdict = await _verdict(page)
        assert verdict["cls"] == "allow", verdict
        assert site.bridge.store.log_counts()["admitted"] == 1


async def test_manual_admission_with_the_hub_cut_off_counts_and_reaches_the_hub_once(
    hub: TestClient, tmp_path: Path, browser: Any
) -> None:
    async with handheld_site(hub, tmp_path) as site:
        page = await _signed_in(browser, site, staff="王芳")
        site.link.set_mode("down")  # the venue's internet is gone
        with pytest.raises(HubUnavailable):
            await site.bridge.link.sync_once()

        await page.fill("#reason", "轮椅通道，闸机过不去")
        await page.fill("#count", "2")
        await page.click("#admit")
        verdict = await _verdict(page)
        assert (verdict["cls"], verdict["code"]) == ("allow", "MANUAL"), verdict
        await page.wait_for_function(
            "document.getElementById('admitted').textContent === '2'"
            " && document.getElementById('link').textContent === '离线 offline'",
            timeout=BOUND_MS,
        )  # the page says the bridge decides alone
        assert site.bridge.admitted_today() == 2  # the in-park figure counts them
        assert await _manual_rows(hub) == []  # the hub has heard nothing yet

        with pytest.raises(HubUnavailable):
            await site.bridge.link.sync_once()
        site.link.set_mode("up")
        await site.bridge.link.sync_once()
        await site.bridge.link.sync_once()  # a second round sends nothing twice

        rows = await _manual_rows(hub)
        assert (
            sorted((r.staff, r.note, r.device, r.gate, r.counted, r.offline) for r in rows)
            == [("王芳", "轮椅通道，闸机过不去", "handheld-王芳", "east", True, True)] * 2
        )
        resp = await hub.get(
            "/api/admin/flow", params={"venue": "v1", "date": TOMORROW.isoformat()}, headers=ADMIN
        )
        flow = await resp.json()
        assert (flow["entries"], flow["in_park"]) == (2, 2), flow


async def test_a_wrong_pin_lets_nobody_in(hub: TestClient, tmp_path: Path, browser: Any) -> None:
    async with handheld_site(hub, tmp_path) as site:
        page = await browser.new_page()
        await page.goto(site.url + "/handheld/")
        await page.fill("#staff", "li.wei")
        await page.fill("#pin", "000000")
        await page.click("button[type=submit]")
        await page.wait_for_function(
            "document.getElementById('login-error').textContent !== ''", timeout=BOUND_MS
        )
        assert await page.is_hidden("#desk")
        assert await page.text_content("#login-error") == "口令错误 · Wrong PIN"

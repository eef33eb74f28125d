"""The order pages in a real browser (Debian's chromium through Playwright): an operator
finds an order by phone and by ID number, opens it, refunds it with a reason and sees the
new state and the audit line; a visitor's ``<script>`` name stays text; a viewer's refund
and a POST without the CSRF token are refused and change nothing.
Screenshot: ``$TICKETHUB_ARTIFACTS/console/order.png``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.console.conftest import LiveHub
from tests.console.kit import PASSWORD
from tests.console.ops_kit import ID_NUMBER, NASTY, PHONE, sold_order
from tests.support import id_number, seed

#: a POST from the page's own script, with or without the CSRF token the page carries
POST_FROM_PAGE = """async ([url, withToken]) => {
  const body = new URLSearchParams({reason: "from the page"});
  if (withToken) body.set("csrf_token", document.querySelector("input[name=csrf_token]").value);
  const r = await fetch(url, {method: "POST", body, redirect: "manual"});
  return r.status;
}"""


@pytest.fixture
async def api(console_hub: LiveHub) -> AsyncIterator[aiohttp.ClientSession]:
    """The hub's JSON API (admin and box office), to sell orders as a channel would."""
    base = console_hub.url.removesuffix("console/")
    async with aiohttp.ClientSession(base_url=base) as session:
        await seed(session)  # type: ignore[arg-type]
        yield session


async def _sign_in(page: Any, hub: LiveHub, username: str) -> None:
    await page.goto(hub.url + "login")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("#sign-in")
    await page.wait_for_selector("#current-user")


async def _search(page: Any, hub: LiveHub, query: str) -> list[str]:
    await page.goto(hub.url + "orders")
    await page.fill("#order-query", query)
    await page.click("#order-search")
    await page.wait_for_selector("#orders")
    return [t.strip() for t in await page.locator("#orders a.order-link").all_text_contents()]


async def _state(hub: LiveHub, order_id: str) -> str:
    order = await hub.hub.orders.get(order_id)
    assert order is not None
    return order.state.value


async def test_operator_finds_opens_and_refunds_an_order(
    browser: Any, console_hub: LiveHub, api: aiohttp.ClientSession, artifacts: Path
) -> None:
    sold = await sold_order(api, "ctrip-9001", name=NASTY)  # type: ignore[arg-type]
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    dialogs: list[str] = []
    page.on("dialog", lambda d: dialogs.append(d.message))
    await _sign_in(page, console_hub, "oper")

    assert await _search(page, console_hub, PHONE) == [sold["id"]]
    results = await page.text_content("#orders tbody") or ""
    assert PHONE not in results and "139****5678" in results
    assert await _search(page, console_hub, ID_NUMBER) == [sold["id"]]
    results = await page.text_content("#orders tbody") or ""
    assert ID_NUMBER not in results and ID_NUMBER[:4] + "*" * 10 + ID_NUMBER[-4:] in results

    await page.click(f"#orders a.order-link:text('{sold['id']}')")
    await page.wait_for_selector("#order-id")
    assert await page.text_content(".visitor-name") == NASTY  # shown as text
    assert await page.locator("script:text('alert(1)')").count() == 0
    assert await page.text_content("#order-state") == "已确认"
    await page.screenshot(path=str(artifacts / "order.png"), full_page=True)

    await page.fill("#refund-form input[name=reason]", "游客临时改变行程")
    await page.click("#refund")
    await page.wait_for_selector("#done")
    assert await page.text_content("#order-state") == "已退款"
    staff_line = await page.text_content("#timeline tr.event-staff") or ""
    assert "oper" in staff_line and "order.refund" in staff_line
    assert "游客临时改变行程" in staff_line
    assert await page.locator("#refund-form").count() == 0  # nothing left to refund
    await page.screenshot(path=str(artifacts / "order-refunded.png"), full_page=True)
    assert await _state(console_hub, sold["id"]) == "refunded"
    assert dialogs == []  # the visitor's <script> never ran
    await page.close()


async def test_viewer_refund_and_tokenless_post_are_refused(
    browser: Any, console_hub: LiveHub, api: aiohttp.ClientSession
) -> None:
    sold = await sold_order(api, "ctrip-9002", id_no=id_number(seq=789))  # type: ignore[arg-type]
    refund = f"{console_hub.url}orders/{sold['id']}/refund"

    viewer = await browser.new_context()
    page = await viewer.new_page()
    await _sign_in(page, console_hub, "watch")
    await page.goto(f"{console_hub.url}orders/{sold['id']}")
    assert await page.locator("#refund-form").count() == 0  # not offered to a viewer
    assert await page.evaluate(POST_FROM_PAGE, [refund, True]) == 403  # and refused
    await viewer.close()

    operator = await browser.new_context()
    page = await operator.new_page()
    await _sign_in(page, console_hub, "oper")
    await page.goto(f"{console_hub.url}orders/{sold['id']}")
    assert await page.locator("#refund-form").count() == 1
    assert await page.evaluate(POST_FROM_PAGE, [refund, False]) == 403  # no CSRF token
    await operator.close()
    assert await _state(console_hub, sold["id"]) == "confirmed"

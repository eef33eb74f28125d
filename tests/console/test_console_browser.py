"""The console in a real browser (Debian's chromium through Playwright): sign in and see
today's figures in Chinese, switch to English, read the switch in the audit log, and be
throttled after too many wrong passwords. Nothing the pages load comes from elsewhere.
Screenshots: ``$TICKETHUB_ARTIFACTS/console/`` (default ``var/artifacts/console``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.console.conftest import LiveHub
from tests.console.kit import PASSWORD


async def _sign_in(page: Any, hub: LiveHub, username: str, password: str = PASSWORD) -> None:
    await page.goto(hub.url + "login")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", password)
    await page.click("#sign-in")


async def test_sign_in_in_chinese_then_switch_to_english(
    browser: Any, console_hub: LiveHub, artifacts: Path
) -> None:
    page = await browser.new_page(viewport={"width": 1280, "height": 720})
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    await page.goto(console_hub.url)  # not signed in: the login page, in Chinese
    assert await page.text_content("h1") == "登录"
    await _sign_in(page, console_hub, "admin")
    await page.wait_for_selector("#figures table")
    assert await page.text_content("h1") == "今日概况"
    assert "admin" in (await page.text_content("#current-user") or "")
    assert "管理员" in (await page.text_content("#current-user") or "")
    assert await page.evaluate("typeof htmx") == "object"  # the vendored script ran
    await page.screenshot(path=str(artifacts / "home-zh.png"), full_page=True)

    await page.click("button[data-language=en]")
    await page.wait_for_selector("h1:text('Today')")
    assert await page.text_content("#logout") == "Sign out"
    await page.screenshot(path=str(artifacts / "home-en.png"), full_page=True)

    await page.click("nav a[href='/console/audit']")
    row = page.locator("#audit tbody tr").first
    await row.wait_for()
    assert "staff.language" in (await row.text_content() or "")
    await page.screenshot(path=str(artifacts / "audit-en.png"), full_page=True)

    await page.click("#logout")
    await page.wait_for_selector("#sign-in")
    assert await page.text_content("h1") == "Sign in"  # the session's language stays
    base = console_hub.url.removesuffix("/console/")
    assert requested and all(u.startswith(base) for u in requested), requested
    await page.close()


async def test_wrong_passwords_throttle_the_login(
    browser: Any, console_hub: LiveHub, artifacts: Path
) -> None:
    page = await browser.new_page()
    limit = console_hub.hub.settings.console_login_max_failures
    for _ in range(limit - 1):
        await _sign_in(page, console_hub, "oper", "not my password")
        assert await page.text_content("#login-error") == "用户名或密码错误。"
    await _sign_in(page, console_hub, "oper", "not my password")
    assert "登录失败次数过多" in (await page.text_content("#login-error") or "")
    await _sign_in(page, console_hub, "oper")  # the right one, too late
    assert "登录失败次数过多" in (await page.text_content("#login-error") or "")
    await page.screenshot(path=str(artifacts / "login-throttled.png"))
    await page.close()

"""The handheld page's guard and API without a browser: the per-bridge PIN, tokens,
refusals in the caller's words, escaping; and ``tickethub bridge admit`` (the CLI's
manual admission) against a running bridge, with the hub cut off and back."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from hardware_bridge.handheld import _PAGE
from hardware_bridge.settings import BridgeSettings
from hardware_bridge.transport import HubUnavailable
from hub.cli import app as cli
from hub.sdk.runtime import ConfigError
from hub.storage.tables import RedemptionRow
from tests.bridge.handheld_kit import ADMIN_TOKEN, PIN, handheld_site
from tests.support import ADMIN, TOMORROW, hub_of


async def _post(http: aiohttp.ClientSession, url: str, body: Any, token: str = "") -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with http.post(url, json=body, headers=headers) as resp:
        return resp.status, await resp.json()


async def test_the_page_needs_the_bridges_pin(hub: TestClient, tmp_path: Path) -> None:
    async with handheld_site(hub, tmp_path) as site, aiohttp.ClientSession() as http:
        api = site.url + "/handheld/api"
        async with http.get(site.url + "/handheld") as resp:  # redirected to /handheld/
            assert resp.status == 200 and resp.url.path == "/handheld/"
            assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
            assert "login-form" in await resp.text()
        for path, body in (("/check", {"value": "X"}), ("/admit", {"reason": "r"})):
            status, err = await _post(http, api + path, body)
            assert (status, err["code"]) == (401, "UNAUTHORIZED")
            status, err = await _post(http, api + path, body, token="e30.forged")
            assert (status, err["code"]) == (401, "UNAUTHORIZED")
        status, err = await _post(http, api + "/session", {"staff": "li", "pin": "nope00"})
        assert (status, err["code"]) == (401, "WRONG_PIN")
        status, err = await _post(http, api + "/session", {"staff": "<b>li</b>", "pin": PIN})
        assert status == 422  # a name that is not a name
        status, s = await _post(http, api + "/session", {"staff": "li.wei", "pin": PIN})
        assert status == 200 and s["device"] == "handheld-li.wei"
        status, err = await _post(http, api + "/admit", {"count": 2}, token=s["token"])
        assert status == 422 and "reason" in err["message"]  # who (the token) AND why
        status, d = await _post(http, api + "/check", {"value": "PAPER-1"}, token=s["token"])
        assert (status, d["allow"], d["code"]) == (200, False, "UNKNOWN_TICKET")
        assert d["zh"] and d["en"] == "Unknown ticket"
        # guessing the PIN is slowed down: five tries, then a wait
        codes = [
            (await _post(http, api + "/session", {"staff": "x", "pin": f"guess{i}"}))[0]
            for i in range(6)
        ]
        assert codes[-1] == 429


async def test_without_a_pin_the_page_is_off(hub: TestClient, tmp_path: Path) -> None:
    async with (
        handheld_site(hub, tmp_path, handheld_pin="") as site,
        aiohttp.ClientSession() as http,
    ):
        async with http.get(site.url + "/handheld/") as resp:
            assert "TICKETHUB_BRIDGE_HANDHELD_PIN" in await resp.text()
        session = site.url + "/handheld/api/session"
        status, err = await _post(http, session, {"staff": "li", "pin": ""})
        assert status == 422  # an empty PIN is not even a try
        status, err = await _post(http, session, {"staff": "li", "pin": "123456"})
        assert (status, err["code"]) == (503, "HANDHELD_OFF")


def test_a_short_pin_is_refused_at_start() -> None:
    with pytest.raises(ConfigError, match=r"HANDHELD_PIN: .*at least 6"):
        BridgeSettings(handheld_pin="1234")


def test_the_page_escapes_what_it_shows() -> None:
    html = _PAGE.render(bridge="b1", venue="<script>alert(1)</script>", enabled=True)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


async def test_bridge_admit_counts_and_reaches_the_hub_once(
    hub: TestClient, tmp_path: Path
) -> None:
    async with handheld_site(hub, tmp_path) as site:

        def run(*args: str) -> Any:
            common = ["--url", site.url, "--token", ADMIN_TOKEN]
            return CliRunner().invoke(cli, ["bridge", "admit", *args, *common])

        site.link.set_mode("down")
        with pytest.raises(HubUnavailable):
            await site.bridge.link.sync_once()
        done = await asyncio.to_thread(
            run, "--reason", "group leader, ticket on the bus", "--staff", "zhao", "--count", "3"
        )
        assert done.exit_code == 0, done.output
        assert "admitted 3 by zhao" in done.output and "offline" in done.output
        assert site.bridge.admitted_today() == 3

        refused = await asyncio.to_thread(run, "--reason", " ", "--staff", "zhao")
        assert refused.exit_code != 0 and site.bridge.admitted_today() == 3
        missing = await asyncio.to_thread(run, "--staff", "zhao")
        assert missing.exit_code != 0 and "--reason" in missing.output
        wrong = await asyncio.to_thread(
            CliRunner().invoke,
            cli,
            ["bridge", "admit", "--reason", "r", "--staff", "s", "--url", site.url, "--token", "x"],
        )
        assert wrong.exit_code == 1 and "UNAUTHORIZED" in wrong.output

        async with aiohttp.ClientSession() as http:
            status, err = await _post(
                http,
                site.url + "/admin/manual",
                {"staff": "zhao", "reason": "r", "ticket": "PAPER-1", "count": 2},
                token=ADMIN_TOKEN,
            )
        assert (status, err["code"]) == (400, "INVALID_REQUEST")  # a ticket is one entry
        assert site.bridge.admitted_today() == 3

        site.link.set_mode("up")
        await site.bridge.link.sync_once()
        await site.bridge.link.sync_once()
        async with hub_of(hub).engine.connect() as conn:
            red = RedemptionRow.__table__
            rows = (await conn.execute(select(red.c.kind, red.c.staff, red.c.note))).all()
        assert rows == [("manual", "zhao", "group leader, ticket on the bus")] * 3
        resp = await hub.get(
            "/api/admin/flow", params={"venue": "v1", "date": TOMORROW.isoformat()}, headers=ADMIN
        )
        assert (await resp.json())["in_park"] == 3


def test_bridge_admit_says_when_no_bridge_answers() -> None:
    result = CliRunner().invoke(
        cli,
        ["bridge", "admit", "--reason", "r", "--staff", "s", "--url", "http://127.0.0.1:9"],
    )
    assert result.exit_code != 0 and "cannot reach the bridge" in result.output

"""The console's alert pages over HTTP (SQLite and PostgreSQL): rules created, edited and
turned off by a supervisor (CSRF, audit line, the API's own checks), unresolved alerts
listed and streamed, acknowledged with a note by an operator, resolved by hand only below
the opening level — and the refusals for lesser roles."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import select

from hub.alerts import engine as alert_engine
from hub.alerts.measures import KINDS
from hub.console import audit
from hub.console.pages.alert_rules import PARAMS
from hub.storage.tables import OutboxRow
from tests.alerts.kit import new_clock, set_in_park, venue
from tests.console.kit import console_client, signed_in
from tests.support import hub_of

OUTBOX = OutboxRow.__table__.c
DESTINATIONS = {
    "ops-wecom": {"sink": "wecom", "url": "http://127.0.0.1:9/cgi-bin/webhook/send?key=k"},
    "ops-hook": {"sink": "webhook", "url": "http://127.0.0.1:9/hook", "secret": "s3cret"},
}


async def _client(aiohttp_client: Any, db_url: str) -> TestClient:
    client = await console_client(
        aiohttp_client,
        db_url,
        new_clock(),
        alert_destinations=DESTINATIONS,
        alert_eval_seconds=0,  # the test evaluates by hand
    )
    await venue(client)
    return client


def _rule_form(token: str, **over: Any) -> dict[str, Any]:
    return {
        "csrf_token": token,
        "name": "crowd",
        "kind": "in_park_percent",
        "param_venue_id": "v1",
        "param_maximum": "1000",
        "open_at": "90",
        "clear_below": "80",
        "remind_seconds": "600",
        "destinations": "ops-wecom",
        "enabled": "on",
        **over,
    }


async def _rules(client: TestClient) -> list[dict[str, Any]]:
    async with hub_of(client).engine.connect() as conn:
        from hub.alerts import rules

        return await rules.listing(conn)


async def _alerts(client: TestClient) -> list[dict[str, Any]]:
    async with hub_of(client).engine.connect() as conn:
        return await alert_engine.listing(conn)


async def _alert_calls(client: TestClient) -> list[tuple[str, str]]:
    stmt = select(OUTBOX.kind, OUTBOX.partner).where(OUTBOX.kind.startswith("alert."))
    async with hub_of(client).engine.connect() as conn:
        return sorted((r.kind, r.partner) for r in (await conn.execute(stmt)).all())


async def _actions(client: TestClient) -> list[tuple[str, str, str]]:
    entries = await audit.recent(hub_of(client).engine)
    return [(e.actor, e.action, e.target) for e in entries]


def test_every_kind_has_its_form_parameters() -> None:
    assert set(PARAMS) == set(KINDS)


async def test_rules_created_edited_turned_off(aiohttp_client: Any, db_url: str) -> None:
    client = await _client(aiohttp_client, db_url)
    hub = hub_of(client)
    token = await signed_in(client, "super")

    page = await client.get("/console/alerts/rules/new")
    assert page.status == 200
    html = await page.text()
    assert 'value="ops-wecom"' in html and 'value="ops-hook"' in html
    assert "http://127.0.0.1:9" not in html  # destinations by name, never their URLs

    # the API's checks, in the form: hysteresis the wrong way round, a missing maximum
    bad = await client.post("/console/alerts/rules", data=_rule_form(token, clear_below="95"))
    assert bad.status == 422
    assert "clear_below must not be above open_at" in await bad.text()
    bad = await client.post("/console/alerts/rules", data=_rule_form(token, param_maximum=""))
    assert bad.status == 422
    assert "params.maximum" in await bad.text()
    bad = await client.post("/console/alerts/rules", data=_rule_form(token, open_at="lots"))
    assert bad.status == 422
    assert await _rules(client) == []

    made = await client.post("/console/alerts/rules", data=_rule_form(token), allow_redirects=False)
    assert made.status == 303, await made.text()
    [rule] = await _rules(client)
    assert rule["params"] == {"venue_id": "v1", "maximum": 1000}
    assert (rule["open_at"], rule["clear_below"], rule["remind_seconds"]) == (90, 80, 600)
    assert rule["destinations"] == ["ops-wecom"] and rule["enabled"] is True
    assert ("super", "alert_rule.create", f"alert_rule:{rule['id']}") in await _actions(client)
    dup = await client.post("/console/alerts/rules", data=_rule_form(token))
    assert dup.status == 409

    listing = await (await client.get("/console/alerts/rules")).text()
    assert "crowd" in listing and "ops-wecom" in listing

    edited = await client.post(
        f"/console/alerts/rules/{rule['id']}",
        data=_rule_form(
            token, open_at="85", clear_below="70", destinations=["ops-wecom", "ops-hook"]
        ),
        allow_redirects=False,
    )
    assert edited.status == 303
    [rule] = await _rules(client)
    assert (rule["open_at"], rule["clear_below"]) == (85, 70)
    assert rule["destinations"] == ["ops-wecom", "ops-hook"]
    [entry] = [e for e in await audit.recent(hub.engine) if e.action == "alert_rule.update"]
    assert entry.before is not None and entry.before["open_at"] == 90
    assert entry.after is not None and entry.after["open_at"] == 85

    # turning it off resolves its open alert, with one clearing message per destination
    await set_in_park(hub, 900)
    [opened] = await hub.alerts.evaluate_now()
    off = await client.post(
        f"/console/alerts/rules/{rule['id']}/enabled",
        data={"csrf_token": token, "enabled": "0"},
        allow_redirects=False,
    )
    assert off.status == 303
    [rule] = await _rules(client)
    assert rule["enabled"] is False
    [alert] = await _alerts(client)
    assert alert["id"] == opened.alert_id and alert["state"] == "resolved"
    assert await _alert_calls(client) == [
        ("alert.opened", "alert:ops-hook"),
        ("alert.opened", "alert:ops-wecom"),
        ("alert.resolved", "alert:ops-hook"),
        ("alert.resolved", "alert:ops-wecom"),
    ]
    assert await hub.alerts.evaluate_now() == []  # off: not evaluated, nothing reopens
    form = await (await client.get(f"/console/alerts/rules/{rule['id']}")).text()
    assert 'name="name" value="crowd"' in form and 'name="param_maximum" value="1000"' in form
    assert f'href="/console/alerts/{opened.alert_id}"' in form  # the rule's alerts
    on = await client.post(
        f"/console/alerts/rules/{rule['id']}/enabled",
        data={"csrf_token": token, "enabled": "1"},
        allow_redirects=False,
    )
    assert on.status == 303
    actions = [a for _, a, _ in await _actions(client)]
    assert "alert_rule.disable" in actions and "alert_rule.enable" in actions


async def test_rules_refused_to_operators_and_without_csrf(
    aiohttp_client: Any, db_url: str
) -> None:
    client = await _client(aiohttp_client, db_url)
    token = await signed_in(client, "oper")
    assert (await client.get("/console/alerts/rules")).status == 403
    refused = await client.post("/console/alerts/rules", data=_rule_form(token))
    assert refused.status == 403
    await signed_in(client, "super")
    no_csrf = _rule_form("")
    del no_csrf["csrf_token"]
    assert (await client.post("/console/alerts/rules", data=no_csrf)).status == 403
    assert await _rules(client) == []
    unknown = await client.post(
        "/console/alerts/rules", data=_rule_form(await signed_in(client, "super"), destinations="x")
    )
    assert unknown.status == 422 and "x" in await unknown.text()
    assert (await client.get("/console/alerts/rules/999")).status == 404


async def test_params_follow_the_kind(aiohttp_client: Any, db_url: str) -> None:
    client = await _client(aiohttp_client, db_url)
    await signed_in(client, "super")
    html = await (await client.get("/console/alerts/rules/params?kind=dead_letters")).text()
    assert 'name="param_partner"' in html and "param_venue_id" not in html
    html = await (await client.get("/console/alerts/rules/params?kind=slot_arrival_rate")).text()
    assert all(f'name="param_{k}"' in html for k in ("venue_id", "slot", "window_seconds"))


async def _open_alert(client: TestClient, token: str) -> int:
    made = await client.post("/console/alerts/rules", data=_rule_form(token), allow_redirects=False)
    assert made.status == 303
    await set_in_park(hub_of(client), 950)
    [move] = await hub_of(client).alerts.evaluate_now()
    return move.alert_id


async def test_acknowledge_and_resolve(aiohttp_client: Any, db_url: str) -> None:
    client = await _client(aiohttp_client, db_url)
    hub = hub_of(client)
    alert_id = await _open_alert(client, await signed_in(client, "super"))

    # a viewer sees it, live, but may not acknowledge it
    token = await signed_in(client, "watch")
    page = await (await client.get("/console/alerts")).text()
    assert f'data-alert="{alert_id}"' in page and "950 / 1000" in page
    assert 'id="ack-form"' not in await (await client.get(f"/console/alerts/{alert_id}")).text()
    refused = await client.post(
        f"/console/alerts/{alert_id}/ack", data={"csrf_token": token, "note": "x"}
    )
    assert refused.status == 403
    events = await client.get("/console/events/alerts")
    data = b""
    async with asyncio.timeout(30):  # sent at once; 30 s is only a bound
        while not re.search(rb"\r?\n\r?\n", data):
            data += await events.content.readany()
    events.close()
    assert data.decode().startswith("event: alerts") and f'data-alert="{alert_id}"' in data.decode()

    token = await signed_in(client, "oper")
    blank = await client.post(
        f"/console/alerts/{alert_id}/ack", data={"csrf_token": token, "note": "  "}
    )
    assert blank.status == 422
    assert (await _alerts(client))[0]["state"] == "open"
    no_csrf = await client.post(f"/console/alerts/{alert_id}/ack", data={"note": "seen"})
    assert no_csrf.status == 403
    acked = await client.post(
        f"/console/alerts/{alert_id}/ack",
        data={"csrf_token": token, "note": "east gate <b>closed</b>"},
        allow_redirects=False,
    )
    assert acked.status == 303
    [alert] = await _alerts(client)
    assert alert["state"] == "acknowledged" and alert["acked_by"] == "oper"
    assert alert["ack_note"] == "east gate <b>closed</b>"
    detail = await (await client.get(f"/console/alerts/{alert_id}")).text()
    assert "east gate &lt;b&gt;closed&lt;/b&gt;" in detail  # escaped
    again = await client.post(
        f"/console/alerts/{alert_id}/ack", data={"csrf_token": token, "note": "y"}
    )
    assert again.status == 409
    refused = await client.post(
        f"/console/alerts/{alert_id}/resolve", data={"csrf_token": token, "note": "over"}
    )
    assert refused.status == 403  # resolving by hand is a supervisor's

    token = await signed_in(client, "super")
    above = await client.post(
        f"/console/alerts/{alert_id}/resolve", data={"csrf_token": token, "note": "over"}
    )
    assert above.status == 409 and "95" in await above.text()
    assert (await _alerts(client))[0]["state"] == "acknowledged"

    await set_in_park(hub, 850)  # in the hysteresis band: stays open by itself
    assert await hub.alerts.evaluate_now() == []
    done = await client.post(
        f"/console/alerts/{alert_id}/resolve",
        data={"csrf_token": token, "note": "crowd thinned out"},
        allow_redirects=False,
    )
    assert done.status == 303
    [alert] = await _alerts(client)
    assert alert["state"] == "resolved" and alert["value"] == 85
    assert await _alert_calls(client) == [
        ("alert.opened", "alert:ops-wecom"),
        ("alert.resolved", "alert:ops-wecom"),
    ]
    actions = await _actions(client)
    assert ("oper", "alert.acknowledge", f"alert:{alert_id}") in actions
    assert ("super", "alert.resolve", f"alert:{alert_id}") in actions
    twice = await client.post(
        f"/console/alerts/{alert_id}/resolve", data={"csrf_token": token, "note": "again"}
    )
    assert twice.status == 409
    assert await hub.alerts.evaluate_now() == []  # 85 % < 90 %: nothing reopens

    history = await (await client.get("/console/alerts/history")).text()
    assert f'data-alert="{alert_id}"' in history and "east gate" in history
    assert 'id="no-alerts"' in await (await client.get("/console/alerts")).text()
    assert (await client.get("/console/alerts/123456")).status == 404

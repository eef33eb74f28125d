"""The alerts admin API: rules are validated (kind, params, hysteresis, destinations),
created, listed, replaced and deleted (an open alert of a deleted rule resolves with its
message); destinations are listed with secrets masked; everything needs the admin token;
a destination naming an unknown sink stops the hub before it starts."""

from __future__ import annotations

from typing import Any

import pytest

from hub.api.app import create_app
from hub.config import ConfigError
from tests.alerts.kit import (
    ADMIN,
    add_rule,
    alert_hub,
    drain,
    new_clock,
    receivers,
    set_in_park,
    venue,
    worker,
)
from tests.support import hub_of, settings

RULES = "/api/admin/alerts/rules"


async def test_rules_crud_and_refusals(aiohttp_client: Any, db_url: str) -> None:
    clock = new_clock()
    async with receivers(clock) as robots:
        client = await alert_hub(aiohttp_client, db_url, clock, robots.destinations())
        await venue(client)
        assert (await client.get(RULES)).status == 401
        bad_token = {"Authorization": "Bearer nope"}
        assert (await client.get("/api/admin/alerts", headers=bad_token)).status == 401

        rule = await add_rule(client, destinations=["ops-wecom"])
        assert rule["kind"] == "in_park_percent" and rule["enabled"] is True
        base = {k: rule[k] for k in ("name", "kind", "params", "open_at", "clear_below")}

        for body, status, code in (
            ({**base, "name": "other", "clear_below": 95}, 422, None),  # above open_at
            ({**base, "name": "other", "kind": "weather"}, 422, None),
            ({**base, "name": "other", "params": {"venue_id": "v1"}}, 422, None),
            ({**base, "name": "other", "destinations": ["nowhere"]}, 400, "UNKNOWN_DESTINATION"),
            ({**base, "destinations": []}, 409, "RULE_EXISTS"),
        ):
            r = await client.post(RULES, json=body, headers=ADMIN)
            assert r.status == status, (body, await r.text())
            if code:
                assert (await r.json())["code"] == code

        dead = await add_rule(
            client, name="dead letters", kind="dead_letters", params={}, open_at=1, clear_below=1
        )
        listed = (await (await client.get(RULES, headers=ADMIN)).json())["rules"]
        assert [r["name"] for r in listed] == ["crowd", "dead letters"]

        r = await client.put(
            f"{RULES}/{dead['id']}", json={**base, "name": "crowd-2"}, headers=ADMIN
        )
        assert r.status == 200 and (await r.json())["kind"] == "in_park_percent"
        r = await client.put(f"{RULES}/{dead['id']}", json=base, headers=ADMIN)
        assert r.status == 409
        assert (await client.put(f"{RULES}/999", json=base, headers=ADMIN)).status == 404
        assert (await client.delete(f"{RULES}/abc", headers=ADMIN)).status == 404
        assert (await client.post("/api/admin/alerts/77/ack", json={"by": "a", "note": "b"},
                                  headers=ADMIN)).status == 404  # fmt: skip
        assert (await client.get("/api/admin/alerts?state=x", headers=ADMIN)).status == 400

        # deleting a rule whose alert is open resolves the alert, with its message
        await set_in_park(hub_of(client), 999)
        await hub_of(client).alerts.evaluate_now()
        r = await client.delete(f"{RULES}/{rule['id']}", headers=ADMIN)
        assert r.status == 200
        await drain(worker(client))
        texts = [b["markdown"]["content"] for b in robots.wecom.received]
        assert len(texts) == 2 and "[已恢复] crowd" in texts[1] and "rule deleted" in texts[1]
        states = {
            a["rule_name"]: a["state"]
            for a in (await (await client.get("/api/admin/alerts", headers=ADMIN)).json())["alerts"]
        }
        assert states["crowd"] == "resolved"


async def test_destinations_are_listed_masked(aiohttp_client: Any, db_url: str) -> None:
    clock = new_clock()
    async with receivers(clock) as robots:
        dest = robots.destinations()
        dest["ops-dingtalk"]["at_mobiles"] = ["13812345678"]
        client = await alert_hub(aiohttp_client, db_url, clock, dest)
        r = await client.get("/api/admin/alerts/destinations", headers=ADMIN)
        text = await r.text()
        assert r.status == 200
        for secret in ("sandbox-key", "sandbox-token", "SECsandbox", "sandbox-secret"):
            assert secret not in text
        shown = {d["name"]: d for d in (await r.json())["destinations"]}
        assert shown["ops-dingtalk"] == {
            "name": "ops-dingtalk",
            "sink": "dingtalk",
            "url": "****",
            "secret": "****",
            "at_mobiles": ["138****5678"],
        }
        assert "13812345678" not in text


def test_unknown_sink_is_a_configuration_error(sqlite_url: str) -> None:
    bad = {"ops": {"sink": "pager", "url": "http://x"}}
    with pytest.raises(ConfigError, match="names sink 'pager'"):
        create_app(settings(sqlite_url, alert_destinations=bad))
    missing = {"ops": {"sink": "dingtalk", "url": "http://x"}}
    with pytest.raises(ConfigError, match="destination 'ops': missing secret"):
        create_app(settings(sqlite_url, alert_destinations=missing))

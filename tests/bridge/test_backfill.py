"""Paper tickets sold during a total outage, entered afterwards (`tickethub backfill`
and the admin API): entered once however often the sheet is entered, used ones counted,
and a second use refused at the gate once the bridge has synced."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path

from aiohttp.test_utils import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from hardware_bridge.runtime import Bridge
from hub.cli import app as cli
from hub.domain.gate import Medium, Scan
from hub.storage.tables import RedemptionRow
from tests.bridge.conftest import AT
from tests.support import ADMIN, TOMORROW, hub_of


def scan(value: str) -> Scan:
    return Scan(device_id="gate-1", gate="north", medium=Medium.QR, value=value)


async def test_paper_tickets_entered_after_an_outage(
    hub: TestClient, bridge: Bridge, tmp_path: Path
) -> None:
    sheet = tmp_path / "sheet.csv"
    used_at = (AT - timedelta(hours=1)).isoformat()
    sheet.write_text(f"paper_no,used_at,gate\nP-0001,{used_at},south\nP-0002,,\n", encoding="utf-8")
    args = [
        "backfill",
        str(sheet),
        "--venue",
        "v1",
        "--product",
        "adult",
        "--date",
        TOMORROW.isoformat(),
        "--slot",
        "09:00-11:00",
        "--staff",
        "wang.fang",
        "--note",
        "power cut 09:00-10:00",
        "--hub-url",
        str(hub.make_url("")),
        "--token",
        "test-admin",
    ]
    result = await asyncio.to_thread(CliRunner().invoke, cli, args)
    assert result.exit_code == 0, result.output
    first = json.loads(result.output)
    assert first["created"] == ["P-0001", "P-0002"] and first["entries"]["counted"] == 1
    # the same sheet again (through the API this time): nothing twice
    body = {
        "venue_id": "v1",
        "product_id": "adult",
        "travel_date": TOMORROW.isoformat(),
        "slot": "09:00-11:00",
        "staff": "wang.fang",
        "tickets": [{"paper_no": "P-0001", "used_at": used_at}, {"paper_no": "P-0002"}],
    }
    resp = await hub.post("/api/admin/backfill", json=body, headers=ADMIN)
    again = await resp.json()
    assert resp.status == 200, again
    assert again["created"] == [] and again["tickets"] == first["tickets"]
    assert again["entries"] == {"recorded": 0, "duplicates": 1, "counted": 0, "conflicts": []}
    async with hub_of(hub).engine.connect() as conn:
        rows = (await conn.execute(select(RedemptionRow.__table__))).all()
    assert [(r.kind, r.staff, r.gate, r.counted) for r in rows] == [
        ("backfill", "wang.fang", "south", True)
    ]
    for bad, status in (
        ({**body, "product_id": "nope"}, 400),  # the sheet names no product of ours
        ({**body, "tickets": [{"paper_no": "x"}]}, 422),  # a field fails the model
    ):
        resp = await hub.post("/api/admin/backfill", json=bad, headers=ADMIN)
        assert resp.status == status and (await resp.json())["code"] == "INVALID_REQUEST"

    await bridge.link.sync_once()
    used = await bridge.host.decide(scan("P-0001"))
    assert (used.allow, used.code) == (False, "ENTRIES_EXHAUSTED")  # its second use
    fresh = await bridge.host.decide(scan("P-0002"))
    assert (fresh.allow, fresh.ticket_id) == (True, first["tickets"]["P-0002"])
    assert not (await bridge.host.decide(scan("P-0002"))).allow

"""``tickethub drill outage`` on SQLite and PostgreSQL: the drill's own code path (its
in-process hub on the test's database, a real venue bridge behind a cut link, the
sandbox QR reader and the handheld page), and the figures it reports checked here
against what the scenario did — not only its own verdict."""

from __future__ import annotations

from pathlib import Path

from sandbox.drill import venue as site
from sandbox.drill.result import render
from sandbox.drill.standalone import run_standalone

BACK_ONLINE = "back online within"  # a measured time: reported, not asserted here


async def test_the_outage_drill_syncs_everything_once(db_url: str, tmp_path: Path) -> None:
    result = await run_standalone(db_url, tmp_path, emergency=20, presold=50)

    failed = [c for c in result.checks if not c.ok and not c.what.startswith(BACK_ONLINE)]
    assert failed == [], "\n".join(render(result))
    f = result.figures
    assert (f["lost"], f["twice"]) == (0, 0)
    assert (f["emergency_sold_at_bridge"], f["emergency_tickets_at_hub"]) == (20, 20)
    assert f["emergency_orders_at_hub"] == 10  # two tickets a sale
    assert f["report_by_channel"] == {
        "boxoffice": {"orders": 10, "tickets_sold": 50, "used": 50},
        "emergency": {"orders": 10, "tickets_sold": 20, "used": 20},
    }
    assert (f["capacity"], f["sold_at_hub"], f["allocated_to_orders"]) == (site.CAPACITY, 70, 70)
    assert f["available_at_hub"] == site.CAPACITY - 70
    assert f["emergency_bucket"] == 20
    unsold = site.ALLOTMENT - 20  # still set aside for the bridge: its slot has not ended
    assert f["day_cap"] == {
        "capacity": site.DAY_CAP,
        "sold": 70,
        "reserved": unsold,
        "available": site.DAY_CAP - 70 - unsold,
    }
    assert f["entries_at_hub"] == f["admitted_at_bridge"] == 70
    assert f["decisions_at_hub"] == f["decisions_at_bridge"] == 71  # and the double use
    assert f["back_online_s"] > 0 and f["synced_s"] >= f["back_online_s"]
    assert any(c.what.startswith(BACK_ONLINE) for c in result.checks)

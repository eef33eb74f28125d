"""The restore drill, through the real command line: `tickethub backup` of a RUNNING hub
(while orders keep coming) and `tickethub bridge backup` of a running bridge, the refusals
of `restore` (a database in use, one that holds data, a damaged or too new backup), then a
hub and a bridge started on the restored copies: every order, ticket, redemption and
device is there, nothing after the backup is, and credentials issued before the backup
verify — at the gate and with the restored hub's keys, which sign new tickets too."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from typer.testing import CliRunner

from hardware_bridge.runtime import Bridge
from hub.cli import app as cli
from hub.clock import FixedClock
from hub.domain.credentials import CredentialVerifier
from hub.domain.gate import Medium, Scan
from hub.storage.migrate import head_revision
from tests.bridge.conftest import AT, TOKEN, LoopDriver, bridge_settings
from tests.support import BOX, hub_client, order, seed


def tickethub(*args: str) -> Any:
    return CliRunner().invoke(cli, [str(a) for a in args])


async def cli_in_thread(*args: str | Path) -> Any:
    """The command runs beside the live hub and bridge, as an operator's shell would."""
    return await asyncio.to_thread(tickethub, *(str(a) for a in args))


def url_of(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


async def start_hub(aiohttp_client: Any, db: Path) -> TestClient:
    return await hub_client(aiohttp_client, url_of(db), bridge_tokens={"v1": TOKEN})


async def start_bridge(http: aiohttp.ClientSession, hub: TestClient, db: Path) -> Bridge:
    bridge = Bridge(
        bridge_settings(str(hub.make_url("")), db),
        http,
        clock=FixedClock(AT),
        drivers={"loop": LoopDriver({"10.0.0.5": "LOOP-5"})},
    )
    await bridge.start_drivers()
    await bridge.start(sync=False)
    return bridge


async def stop_bridge(bridge: Bridge) -> None:
    await bridge.stop()
    bridge.close()


def qr(value: str) -> Scan:
    return Scan(device_id="loop-LOOP-5", gate="north", medium=Medium.QR, value=value)


async def get_order(hub: TestClient, order_id: str) -> tuple[int, Any]:
    resp = await hub.get(f"/api/boxoffice/orders/{order_id}", headers=BOX)
    return resp.status, await resp.json()


async def keys(hub: TestClient) -> dict[int, str]:
    body = await (await hub.get("/api/venues/v1/keys")).json()
    return {k["key_id"]: k["public_key"] for k in body["keys"]}


async def sell(hub: TestClient, key: str, quantity: int = 1) -> dict[str, Any]:
    status, body = await order(hub, key, quantity=quantity, confirm=True)
    assert status == 201, body
    return dict(body["order"])


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def test_restore_drill(
    aiohttp_client: Any, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    hub_db, bridge_db = tmp_path / "hub.db", tmp_path / "bridge.db"
    backups = tmp_path / "backups"
    hub = await start_hub(aiohttp_client, hub_db)
    await seed(hub, capacity=50)
    before = [await sell(hub, "o1", quantity=2), await sell(hub, "o2")]
    public_keys = await keys(hub)

    bridge = await start_bridge(http, hub, bridge_db)
    await bridge.link.pull_config()
    await bridge.link.sync_once()
    await bridge.host.add_device("loop", address="10.0.0.5", gate="north")
    used = before[0]["tickets"][0]
    assert (await bridge.host.decide(qr(used["credential"]))).allow
    await bridge.link.sync_once()  # the hub counts that entry
    offline_only = before[1]["tickets"][0]  # admitted at the bridge, not yet synced:
    assert (await bridge.host.decide(qr(offline_only["credential"]))).allow  # only there

    # -- backups while both run, the hub taking orders meanwhile -------------------------
    rushed = [await sell(hub, "rush-0", quantity=2)]
    running = asyncio.create_task(
        cli_in_thread("backup", backups / "hub.db", "--database-url", url_of(hub_db))
    )
    while not running.done() and len(rushed) < 20:  # orders keep committing meanwhile
        rushed.append(await sell(hub, f"rush-{len(rushed)}", quantity=2))
    hub_backup = await running
    assert hub_backup.exit_code == 0, hub_backup.output
    assert f"integrity ok, schema {head_revision()} (head)" in hub_backup.output
    bridge_backup = await cli_in_thread(
        "bridge", "backup", backups / "bridge.db", "--db", bridge_db
    )
    assert bridge_backup.exit_code == 0, bridge_backup.output
    assert "1 not yet synced, 1 devices" in bridge_backup.output
    assert (backups / "hub.db").stat().st_mode & 0o077 == 0  # private keys inside
    again = await cli_in_thread("backup", backups / "hub.db", "--database-url", url_of(hub_db))
    assert again.exit_code == 1 and "exists" in again.output

    # a snapshot of one moment: an order is in the copy with all its tickets, or not at all
    with sqlite3.connect(backups / "hub.db") as copy:
        per_order = copy.execute(
            "SELECT o.id, count(t.id) FROM orders o LEFT JOIN ticket t ON t.order_id = o.id "
            "WHERE o.partner_order_id LIKE 'rush-%' GROUP BY o.id"
        ).fetchall()
    assert all(n == 2 for _, n in per_order), per_order
    in_backup = {oid for oid, _ in per_order}
    assert rushed[0]["id"] in in_backup and in_backup <= {o["id"] for o in rushed}

    late = await sell(hub, "late")  # after the backup: must not come back
    await bridge.link.sync_once()  # this bridge's cursor is now past the backup

    # -- restore refuses to touch what is running ----------------------------------------
    for force in ((), ("--force",)):
        refused = await cli_in_thread(
            "restore", backups / "hub.db", "--database-url", url_of(hub_db), *force
        )
        assert refused.exit_code == 1 and "running process" in refused.output, refused.output
    refused = await cli_in_thread("bridge", "restore", backups / "bridge.db", "--db", bridge_db)
    assert refused.exit_code == 1 and "running process" in refused.output

    await stop_bridge(bridge)
    await hub.close()

    # -- and a backup it cannot trust ----------------------------------------------------
    damaged = tmp_path / "damaged.db"
    shutil.copy(backups / "hub.db", damaged)
    with open(damaged, "r+b") as f:  # pages 2 to 5 overwritten, as a bad disk would
        f.seek(4096)
        f.write(b"\xde\xad\xbe\xef" * 4096)
    future = tmp_path / "future.db"
    shutil.copy(backups / "hub.db", future)
    with sqlite3.connect(future) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999'")
    elsewhere = tmp_path / "elsewhere.db"
    for bad, why in ((damaged, "integrity"), (future, "unknown to this tickethub")):
        result = tickethub("restore", bad, "--database-url", url_of(elsewhere))
        assert result.exit_code == 1 and why in result.output, result.output
        assert not elsewhere.exists()
    result = tickethub("restore", backups / "bridge.db", "--database-url", url_of(elsewhere))
    assert result.exit_code == 1 and "not a tickethub hub database" in result.output

    # -- restore over the stopped hub's database: only with --force ----------------------
    result = tickethub("restore", backups / "hub.db", "--database-url", url_of(hub_db))
    assert result.exit_code == 1 and "--force" in result.output
    result = tickethub("restore", backups / "hub.db", "--database-url", url_of(hub_db), "--force")
    assert result.exit_code == 0, result.output
    assert f"{2 + len(in_backup)} orders" in result.output
    restored_bridge_db = tmp_path / "site-pc-2" / "bridge.db"  # a replacement PC
    result = tickethub("bridge", "restore", backups / "bridge.db", "--db", restored_bridge_db)
    assert result.exit_code == 0, result.output

    # -- a hub on the restored copy -------------------------------------------------------
    hub = await start_hub(aiohttp_client, hub_db)
    for sold in before:
        status, body = await get_order(hub, sold["id"])
        assert status == 200
        tickets = {t["id"]: t["credential"] for t in body["order"]["tickets"]}
        assert tickets == {t["id"]: t["credential"] for t in sold["tickets"]}
    assert (await get_order(hub, before[0]["id"]))[1]["order"]["state"] == "partly_redeemed"
    assert (await get_order(hub, late["id"]))[0] == 404  # after the backup: gone
    for oid in in_backup:
        assert (await get_order(hub, oid))[0] == 200
    assert await keys(hub) == public_keys
    verifier = CredentialVerifier(await keys(hub))
    for sold in before:
        for ticket in sold["tickets"]:
            assert verifier.verify(ticket["credential"]).ticket_id == ticket["id"]
    fresh = await sell(hub, "after-restore")  # signed with the restored private key
    old_verifier = CredentialVerifier(public_keys)
    assert (
        old_verifier.verify(fresh["tickets"][0]["credential"]).ticket_id
        == (fresh["tickets"][0]["id"])
    )

    # -- a bridge on its restored store, synced with the restored hub ---------------------
    bridge = await start_bridge(http, hub, restored_bridge_db)
    try:
        assert [d.id for d in bridge.host.devices()] == ["loop-LOOP-5"]
        await bridge.link.pull_config()
        await bridge.link.sync_once()  # uploads the decision that existed only there
        status, body = await get_order(hub, before[1]["id"])
        assert body["order"]["state"] == "redeemed"
        again = await bridge.host.decide(qr(used["credential"]))
        assert (again.allow, again.code) == (False, "ENTRIES_EXHAUSTED")
        second = before[0]["tickets"][1]
        assert (await bridge.host.decide(qr(second["credential"]))).allow
        assert (await bridge.host.decide(qr(fresh["tickets"][0]["credential"]))).allow
    finally:
        await stop_bridge(bridge)

    # -- the bridge that kept running (its store not restored) synced past the backup;
    # a refund at the restored hub still reaches it
    resp = await hub.post(f"/api/boxoffice/orders/{rushed[0]['id']}/refund", json={}, headers=BOX)
    assert resp.status == 200, await resp.text()
    bridge = await start_bridge(http, hub, bridge_db)
    try:
        await bridge.link.sync_once()
        refunded = await bridge.host.decide(qr(rushed[0]["tickets"][0]["credential"]))
        assert (refunded.allow, refunded.code) == (False, "TICKET_REVOKED")
    finally:
        await stop_bridge(bridge)


def test_postgresql_is_pointed_to_its_own_tools() -> None:
    url = "postgresql+asyncpg://postgres:secret@127.0.0.1/tickethub"
    for command in (("backup", "x.db"), ("restore", "x.db")):
        result = tickethub(*command, "--database-url", url)
        assert result.exit_code == 2
        assert "pg_dump" in result.output and "WAL archiving" in result.output
        assert "secret" not in result.output


def test_bridge_restore_refuses_a_store_it_cannot_run(tmp_path: Path) -> None:
    from hardware_bridge.store import BridgeStore

    store = BridgeStore(tmp_path / "live.db")
    store.close()
    result = tickethub("bridge", "backup", tmp_path / "b.db", "--db", tmp_path / "live.db")
    assert result.exit_code == 0 and "0 tickets" in result.output, result.output
    with sqlite3.connect(tmp_path / "b.db") as conn:
        conn.execute("PRAGMA user_version = 99")  # written by a newer bridge
    target = tmp_path / "new" / "bridge.db"
    result = tickethub("bridge", "restore", tmp_path / "b.db", "--db", target)
    assert result.exit_code == 1 and "newer than this bridge's" in result.output
    (tmp_path / "notes.db").write_text("not a database at all")
    result = tickethub("bridge", "restore", tmp_path / "notes.db", "--db", target)
    assert result.exit_code == 1 and "not a SQLite database" in result.output
    assert not target.exists()

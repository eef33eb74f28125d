"""`tickethub outbox list / retry` on a SQLite file with dead calls."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from outbox_kit import T0, call, enqueue
from typer.testing import CliRunner

from hub.cli.outbox import app
from hub.clock import SystemClock
from hub.outbox import OutboxStore
from hub.storage.db import create_admin_engine, create_all


async def _seed(url: str) -> list[int]:
    """Three calls: two dead-lettered, one still pending. Returns the dead ids."""
    engine = create_admin_engine(url)
    try:
        await create_all(engine)
        await enqueue(engine, [call("d1"), call("d2", partner="meituan"), call("p1")], T0)
        claimed = await OutboxStore.claim(engine, worker_id="w", limit=2, now=T0, lease_seconds=60)
        for c in claimed:
            await OutboxStore.mark_dead(
                engine, c.id, worker_id="w", error="partner answered 400 (1005 missing info)"
            )
        return [c.id for c in claimed]
    finally:
        await engine.dispose()


async def _states(url: str) -> dict[str, str]:
    engine = create_admin_engine(url)
    try:
        return {e.dedupe_key: e.state for e in await OutboxStore.list_calls(engine)}
    finally:
        await engine.dispose()


def test_list_shows_dead_calls_and_retry_all_dead_requeues_them(sqlite_url: str) -> None:
    dead_ids = asyncio.run(_seed(sqlite_url))
    runner = CliRunner()
    db = ["--database-url", sqlite_url]

    listed = runner.invoke(app, ["list", "--state", "dead", *db])
    assert listed.exit_code == 0, listed.output
    lines = [line for line in listed.output.splitlines() if " dead " in line]
    assert len(lines) == 2
    assert any(str(dead_ids[0]) in line and "acme" in line for line in lines)
    assert any("meituan" in line for line in lines)
    assert "1005 missing info" in listed.output

    only_meituan = runner.invoke(app, ["list", "--partner", "meituan", *db])
    assert "meituan" in only_meituan.output and "acme" not in only_meituan.output

    assert runner.invoke(app, ["list", "--state", "bogus", *db]).exit_code != 0

    missing = runner.invoke(app, ["retry", *db])
    assert missing.exit_code == 2
    assert "--all-dead" in missing.output

    retried = runner.invoke(app, ["retry", "--all-dead", *db])
    assert retried.exit_code == 0, retried.output
    assert "Moved 2 dead call(s) back to pending" in retried.output
    assert asyncio.run(_states(sqlite_url)) == {"d1": "pending", "d2": "pending", "p1": "pending"}

    again = runner.invoke(app, ["retry", "--all-dead", *db])
    assert again.exit_code == 0
    assert "Nothing to retry" in again.output
    assert "No partner calls match" in runner.invoke(app, ["list", "--state", "dead", *db]).output


def test_retry_by_id_only_touches_those_dead_calls(sqlite_url: str) -> None:
    first, second = asyncio.run(_seed(sqlite_url))
    runner = CliRunner()
    db = ["--database-url", sqlite_url]
    result = runner.invoke(app, ["retry", str(second), *db])
    assert result.exit_code == 0, result.output
    assert "Moved 1 dead call(s)" in result.output
    states = asyncio.run(_states(sqlite_url))
    assert states == {"d1": "dead", "d2": "pending", "p1": "pending"}
    nothing = runner.invoke(app, ["retry", str(second), "424242", *db])
    assert "Nothing to retry" in nothing.output
    assert first != second


async def _seed_delivered(url: str) -> None:
    """Two calls delivered (one long ago, one just now), one dead, one pending."""
    now = SystemClock().now()
    engine = create_admin_engine(url)
    try:
        await create_all(engine)
        keys = ["old", "new", "dead", "waiting"]
        await enqueue(engine, [call(k) for k in keys], now)
        claimed = await OutboxStore.claim(engine, worker_id="w", limit=3, now=now, lease_seconds=60)
        by_key = {c.call.dedupe_key: c for c in claimed}
        long_ago = now - timedelta(days=40)
        await OutboxStore.mark_done(engine, by_key["old"].id, worker_id="w", now=long_ago)
        await OutboxStore.mark_done(engine, by_key["new"].id, worker_id="w", now=now)
        await OutboxStore.mark_dead(engine, by_key["dead"].id, worker_id="w", error="400")
    finally:
        await engine.dispose()


def test_purge_deletes_only_old_delivered_calls(sqlite_url: str) -> None:
    asyncio.run(_seed_delivered(sqlite_url))
    result = CliRunner().invoke(
        app, ["purge", "--older-than-days", "30", "--database-url", sqlite_url]
    )
    assert result.exit_code == 0, result.output
    assert "Deleted 1 delivered call" in result.output
    assert asyncio.run(_states(sqlite_url)) == {"new": "done", "dead": "dead", "waiting": "pending"}
    again = CliRunner().invoke(app, ["purge", "--database-url", sqlite_url])
    assert "Deleted 0 delivered call" in again.output


async def _seed_spec_partner(url: str) -> None:
    """A dead `consumed` notice of the spec-only channel tripnest (3-day deadline)."""
    engine = create_admin_engine(url)
    try:
        await create_all(engine)
        await enqueue(engine, [call("t1", partner="tripnest", kind="consumed")], T0)
        (claimed,) = await OutboxStore.claim(
            engine, worker_id="w", limit=1, now=T0, lease_seconds=60
        )
        await OutboxStore.mark_dead(engine, claimed.id, worker_id="w", error="9000 [deadline]")
    finally:
        await engine.dispose()


async def _deadline(url: str, key: str) -> datetime:
    engine = create_admin_engine(url)
    try:
        entry = {e.dedupe_key: e for e in await OutboxStore.list_calls(engine)}[key]
    finally:
        await engine.dispose()
    assert entry.deadline_at is not None
    return entry.deadline_at.replace(tzinfo=entry.deadline_at.tzinfo or UTC)


def test_retry_gives_a_spec_only_partner_its_own_deadline(sqlite_url: str) -> None:
    """The hub knows spec-only channels from TICKETHUB_CHANNEL_SPECS_DIRS; the replay
    must too, or tripnest's 3-day consumed notice got the default 24 h."""
    asyncio.run(_seed_spec_partner(sqlite_url))
    specs = Path(__file__).resolve().parents[2] / "examples" / "channel_specs"
    env = {"TICKETHUB_CHANNEL_SPECS_DIRS": json.dumps([str(specs)])}
    before = SystemClock().now()
    result = CliRunner().invoke(app, ["retry", "--all-dead", "--database-url", sqlite_url], env=env)
    after = SystemClock().now()
    assert result.exit_code == 0, result.output
    deadline = asyncio.run(_deadline(sqlite_url, "t1"))
    assert before + timedelta(days=3) <= deadline <= after + timedelta(days=3)

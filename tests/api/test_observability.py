"""What operators watch: ``--version``, request ids in headers and in every log line of
the request, JSON logs (masked), the access log, per-route request metrics, the outbox
backlog, and an in-park gauge every hub agrees on."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from importlib import metadata
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from prometheus_client import REGISTRY
from typer.testing import CliRunner

from hub.api.app import create_app
from hub.cli import app as cli_app
from hub.clock import FixedClock
from hub.gauges import DatabaseGauges
from hub.logformat import JsonFormatter, RequestIdFilter
from hub.logmask import MaskPersonalData
from hub.metrics import IN_PARK
from hub.outbox import OutboxStore
from hub.plugins import build_plugins
from hub.sdk import ChannelContext, PartnerCall, hookimpl
from tests.support import T0, hub_client, hub_of, order, seed, settings

ID_NUMBER = "110101199003071234"
BRIDGE = {"Authorization": "Bearer bridge-v1"}
AT = T0 + timedelta(days=1)  # the day the tickets are for (venue-local TOMORROW)


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_version() -> None:
    result = CliRunner().invoke(cli_app, ["--version"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"tickethub {metadata.version('tickethub')}"


# -- request ids and logs ----------------------------------------------------------------
class Talker:
    """A channel whose route logs what a careless plugin would: a visitor's ID number."""

    name = "talker"

    def setup(self, ctx: ChannelContext) -> None:
        @ctx.routes.get("/api/channels/talker/{who}", tag="talker", summary="talks")
        async def talk(request: web.Request) -> web.Response:
            logging.getLogger("talker").warning("looking up %s", request.match_info["who"])
            return web.json_response({"ok": True})

    async def deliver(self, call: PartnerCall) -> None:
        return None


class TalkerPlugin:
    @hookimpl
    def register_channels(self, registry: Any) -> None:
        registry.add("talker", Talker())


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """The root logger writing JSON into a buffer, with the filters `setup_logging`
    installs (masking, request id)."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(MaskPersonalData())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    levels = {name: logging.getLogger(name).level for name in ("hub.access", "talker")}
    for name in levels:
        logging.getLogger(name).setLevel(logging.INFO)
    try:
        yield out
    finally:
        root.removeHandler(handler)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def _records(out: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]


async def test_request_id_is_answered_and_on_every_log_line_of_the_request(
    aiohttp_client: Any, sqlite_url: str, json_log: io.StringIO
) -> None:
    app = create_app(
        settings(sqlite_url),
        plugins=build_plugins(extra=[TalkerPlugin()], load_entry_points=False),
        clock=FixedClock(T0),
    )
    client = await aiohttp_client(app)
    logging.getLogger("talker").warning("outside any request")

    resp = await client.get(
        f"/api/channels/talker/{ID_NUMBER}", headers={"X-Request-Id": "lb-7f3a.42"}
    )
    assert resp.status == 200
    assert resp.headers["X-Request-Id"] == "lb-7f3a.42"
    made = await client.get("/api/channels/talker/someone")
    made_id = made.headers["X-Request-Id"]
    assert len(made_id) == 32 and made_id != "lb-7f3a.42"
    odd = await client.get("/healthz", headers={"X-Request-Id": "two words\tand a tab"})
    assert odd.headers["X-Request-Id"] != "two words\tand a tab"  # not echoed into logs
    missing = await client.get("/no/such/page", headers={"X-Request-Id": "r-404"})
    assert (missing.status, missing.headers["X-Request-Id"]) == (404, "r-404")

    text = json_log.getvalue()
    assert ID_NUMBER not in text  # JSON logs stay masked, the access log's path too
    records = _records(json_log)
    (outside,) = [r for r in records if r["message"] == "outside any request"]
    assert "request_id" not in outside
    mine = [r for r in records if r.get("request_id") == "lb-7f3a.42"]
    assert {r["logger"] for r in mine} == {"talker", "hub.access"}
    (access,) = [r for r in mine if r["logger"] == "hub.access"]
    assert access["http"]["route"] == "/api/channels/talker/{who}"
    assert access["http"]["status"] == 200 and access["http"]["method"] == "GET"
    assert {r["logger"] for r in records if r.get("request_id") == made_id} == {
        "talker",
        "hub.access",
    }
    (lost,) = [r for r in records if r.get("request_id") == "r-404"]
    assert lost["http"]["status"] == 404


def test_log_format_json_from_the_environment() -> None:
    """``TICKETHUB_LOG_FORMAT=json``: what `setup_logging` (serve, bridge run) writes."""
    code = (
        "import logging; from hub.process import setup_logging; setup_logging('INFO'); "
        f"logging.getLogger('hub.orders').warning('visitor %s refused', '{ID_NUMBER}')"
    )
    env = {**os.environ, "TICKETHUB_LOG_FORMAT": "json"}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    (line,) = done.stderr.splitlines()
    record = json.loads(line)
    assert (record["level"], record["logger"]) == ("WARNING", "hub.orders")
    assert ID_NUMBER not in line and "refused" in record["message"]


# -- metrics ---------------------------------------------------------------------------
async def test_requests_are_counted_per_route_not_per_url(
    aiohttp_client: Any, sqlite_url: str
) -> None:
    client = await hub_client(aiohttp_client, sqlite_url)
    await seed(client)
    route = "/api/venues/{venue_id}/keys"
    before_ok = _sample("tickethub_http_requests_total", method="GET", route=route, status="200")
    before_404 = _sample("tickethub_http_requests_total", method="GET", route=route, status="404")
    for venue in ("v1", "v1", "nowhere"):
        await client.get(f"/api/venues/{venue}/keys")
    await client.get("/not/a/route")
    after_ok = _sample("tickethub_http_requests_total", method="GET", route=route, status="200")
    after_404 = _sample("tickethub_http_requests_total", method="GET", route=route, status="404")
    assert (after_ok - before_ok, after_404 - before_404) == (2, 1)
    metrics = await (await client.get("/metrics")).text()
    assert 'route="/api/venues/v1/keys"' not in metrics
    assert 'route="(unmatched)"' in metrics
    assert 'tickethub_http_request_seconds_count{method="GET",route="/api/venues/{venue_id}' in (
        metrics
    )


async def test_outbox_backlog_gauge(aiohttp_client: Any, sqlite_url: str) -> None:
    client = await hub_client(aiohttp_client, sqlite_url, metrics_db_seconds=0)
    engine = hub_of(client).engine
    calls = [
        PartnerCall(partner="backlogco", kind="issued", dedupe_key=f"b-{i}", payload={})
        for i in range(3)
    ]
    async with engine.begin() as conn:
        await OutboxStore.enqueue(conn, calls, now=T0, policy_for=lambda _p: _policy())
    (claimed,) = await OutboxStore.claim(engine, worker_id="w", limit=1, now=T0, lease_seconds=60)
    await OutboxStore.mark_dead(engine, claimed.id, worker_id="w", error="400")
    await client.get("/metrics")
    gauge = "tickethub_outbox_backlog"
    assert _sample(gauge, partner="backlogco", state="pending") == 2
    assert _sample(gauge, partner="backlogco", state="dead") == 1
    await OutboxStore.retry_dead(engine, None, now=T0, policy_for=lambda _p: _policy())
    await client.get("/metrics")
    assert _sample(gauge, partner="backlogco", state="pending") == 3
    assert _sample(gauge, partner="backlogco", state="dead") == 0  # emptied, not stale


def _policy() -> Any:
    from hub.outbox import DEFAULT_POLICY

    return DEFAULT_POLICY


# -- in-park, the same on every hub ------------------------------------------------------
def _scan(rid: str, ticket_id: str, direction: str = "in") -> dict[str, Any]:
    return {
        "id": rid,
        "ticket_id": ticket_id,
        "gate": "north",
        "device": "qr-1",
        "medium": "qr",
        "direction": direction,
        "at": AT.isoformat(),
        "accepted": True,
        "offline": False,
    }


async def _upload(client: TestClient, scans: list[dict[str, Any]]) -> None:
    resp = await client.post(
        "/api/bridge/venues/v1/redemptions",
        json={"bridge": "b1", "redemptions": scans},
        headers=BRIDGE,
    )
    assert resp.status == 200, await resp.text()


def _in_park(metrics: str) -> str:
    (line,) = [m for m in metrics.splitlines() if m.startswith('tickethub_in_park{venue="v1"}')]
    return line.split()[-1]


async def test_every_hub_reports_the_in_park_the_database_holds(
    aiohttp_client: Any, db_url: str
) -> None:
    """Two hubs on one database; the bridge uploads to one of them. The other, which
    never saw the upload (a separate process: its gauges start empty), reports the same
    number, because both read it from the database."""
    clock = FixedClock(T0)
    over = {"bridge_tokens": {"v1": "bridge-v1"}, "metrics_db_seconds": 0}
    hub_a = await hub_client(aiohttp_client, db_url, clock=clock, **over)
    await seed(hub_a)
    status, body = await order(hub_a, "o1", quantity=3, confirm=True)
    assert status == 201, body
    tickets = [t["id"] for t in body["order"]["tickets"]]
    hub_b = await aiohttp_client(create_app(settings(db_url, **over), clock=clock))

    clock.set(AT)  # the visit day: gates scan, the bridge uploads to hub A only
    await _upload(hub_a, [_scan(f"in-{t}", t) for t in tickets])
    await _upload(hub_a, [_scan(f"out-{tickets[0]}", tickets[0], "out")])
    IN_PARK.clear()  # what hub B's process knows of A's uploads: nothing

    assert _in_park(await (await hub_b.get("/metrics")).text()) == "2.0"
    assert _in_park(await (await hub_a.get("/metrics")).text()) == "2.0"
    clock.set(AT + timedelta(days=1))  # a new day: nobody is in yet
    assert _in_park(await (await hub_b.get("/metrics")).text()) == "0.0"


async def test_the_database_is_read_at_most_once_per_cache_period(
    aiohttp_client: Any, sqlite_url: str
) -> None:
    clock = FixedClock(T0)
    client = await hub_client(
        aiohttp_client, sqlite_url, clock=clock, bridge_tokens={"v1": "bridge-v1"}
    )
    await seed(client)
    status, body = await order(client, "o1", quantity=2, confirm=True)
    assert status == 201, body
    first, second = (t["id"] for t in body["order"]["tickets"])
    clock.set(AT)
    ticks = [100.0]
    gauges = DatabaseGauges(hub_of(client).engine, clock, ttl=5, monotonic=lambda: ticks[0])

    await _upload(client, [_scan("in-1", first)])
    await gauges.refresh()
    assert _sample("tickethub_in_park", venue="v1") == 1
    await _upload(client, [_scan("in-2", second)])
    ticks[0] += 4.9
    await gauges.refresh()
    assert _sample("tickethub_in_park", venue="v1") == 1  # cached
    ticks[0] += 0.1
    await gauges.refresh()
    assert _sample("tickethub_in_park", venue="v1") == 2

"""Schemathesis against the served document: every operation of ``/api/openapi.json`` is
called with requests generated from its own schema, on a real hub (loopback, SQLite,
seeded like the other API tests, its WeChat channel configured against the WeChat
simulator and a mini-program visitor logged in), and each answer must be no server
error, have a documented status, and match the documented schema.

Bounded: a few derandomized examples per operation (the same requests every run), no
example database, no shrinking, and a wall-clock guard for the whole run. Operations with
a JSON body also get examples that break their schema (schemathesis' negative mode): each
must be refused with a documented status, never a server error.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from plugins.channel_agency.signing import signed_headers
from tests.support import ADMIN, BOX, T0, TOMORROW, order_body, seed

EXAMPLES = 6
BRIDGE = {"Authorization": "Bearer test-bridge"}
HEADERS = {"admin": ADMIN, "staff": ADMIN, "boxoffice": BOX, "bridge": BRIDGE}
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]

# Bodies that are files, not JSON: a real JPEG header, a roster line, junk.
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"
schemathesis.openapi.media_type("image/jpeg", st.sampled_from([JPEG, b"", b"not a jpeg"]))
schemathesis.openapi.media_type(
    "text/csv", st.sampled_from(["姓名,证件号码\n张三,110101199003071234\n".encode(), b"a,b\n"])
)
schemathesis.openapi.media_type(
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    st.sampled_from([b"PK\x03\x04", b""]),
)
schemathesis.openapi.media_type("text/xml", st.sampled_from([b"<xml></xml>", b"<"]))


class _Aiohttp:
    """An aiohttp test client bound to a loopback port, on its own event loop in a
    thread, so schemathesis (synchronous, requests) can call it like any server."""

    def __init__(self, client_factory: Any) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.factory = client_factory
        self.client: Any = None
        self.stack = AsyncExitStack()  # what the factory runs beside the hub (WeChat)

    def __enter__(self) -> _Aiohttp:
        self.thread.start()
        self.client = self.run(self.factory(self.stack))
        return self

    def run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=120)

    @property
    def base(self) -> str:
        return str(self.client.make_url("")).rstrip("/")

    def __exit__(self, *exc: object) -> None:
        self.run(self.client.close())
        self.run(self.stack.aclose())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=30)
        self.loop.close()


class _SignAsAgency(requests.auth.AuthBase):
    """Signs each request exactly as `plugins.channel_agency.signing` documents (the body
    as sent, a fresh nonce, the hub's clock), so the agency routes are fuzzed past the
    signature check."""

    def __init__(self, creds: dict[str, str]) -> None:
        self.creds = creds

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        path, _, query = (r.path_url or "/").partition("?")
        body = r.body.encode() if isinstance(r.body, str) else (r.body or b"")
        r.headers.update(
            signed_headers(
                self.creds["key_id"],
                self.creds["secret"],
                str(r.method),
                unquote(path),
                query,
                body,
                now=int(T0.timestamp()),
            )
        )
        return r


@dataclass
class LiveHub:
    base: str
    known: dict[str, str]  # path parameters naming what the seed made
    agency: _SignAsAgency
    visitor: dict[str, str]  # the mini-program's Authorization, logged in through WeChat
    v3_base: str  # a hub on WeChat Pay v3, for v3's notices (the fuzzed hub is on v2)


@pytest.fixture
def live_hub(tmp_path: Path) -> Iterator[LiveHub]:
    from aiohttp.test_utils import TestClient, TestServer

    from hub.api.app import create_app
    from hub.clock import FixedClock
    from sandbox.wechat.keys import generate_merchant_setup
    from sandbox.wechat.server import WeChatSimulator
    from tests.agency.kit import call, group, make_agency
    from tests.support import settings as hub_settings
    from tests.wechat.kit import listening_socket

    known: dict[str, str] = {"venue_id": "v1", "product_id": "adult", "index": "0"}
    creds: dict[str, str] = {}
    visitor: dict[str, str] = {}
    bases: dict[str, str] = {}

    async def wechat_hub(
        stack: AsyncExitStack, name: str, pay_version: str, **over: Any
    ) -> tuple[TestClient, WeChatSimulator]:
        """A hub whose WeChat channel is configured against a WeChat simulator, as in
        tests/wechat, so the mini-program's routes answer rather than 503 NOT_CONFIGURED."""
        setup = generate_merchant_setup(pay_version=pay_version, time_scale=0.001)
        sim = await stack.enter_async_context(WeChatSimulator(setup.config).running())
        sock = listening_socket()  # the notify URL names the hub's port before it listens
        port = int(sock.getsockname()[1])
        wechat = sim.hub_settings(setup.settings, notify_base=f"http://127.0.0.1:{port}")
        cfg = hub_settings(
            f"sqlite+aiosqlite:///{tmp_path / name}", channel_settings={"wechat": wechat}, **over
        )
        server = TestServer(
            create_app(cfg, clock=FixedClock(T0)),
            host="127.0.0.1",
            port=port,
            socket_factory=lambda *_: sock,
        )
        client = TestClient(server)
        await client.start_server()
        return client, sim

    async def start(stack: AsyncExitStack) -> TestClient:
        # A merchant is on one WeChat Pay version, and the notice routes of the other
        # answer 503 (not configured). The fuzzed hub pays with v2 (its signatures carry
        # no timestamp, so it works on the hub's fixed clock); v3's notices go to a second
        # hub, configured for v3.
        v3, _ = await wechat_hub(stack, "v3.db", "v3")
        stack.push_async_callback(v3.close)
        bases["v3"] = str(v3.make_url("")).rstrip("/")
        client, sim = await wechat_hub(stack, "hub.db", "v2", bridge_tokens={"v1": "test-bridge"})
        await seed(client, capacity=1000)
        creds.update(
            await make_agency(client, "fz", top_up=10**9, burst=100_000, rate_per_second=10_000)
        )
        status, booked = await call(client, creds, "POST", "/api/agency/groups", group("FZ-1", 2))
        assert status == 201, booked
        resp = await client.post(
            "/api/boxoffice/orders", json=order_body(quantity=2, confirm=True), headers=BOX
        )
        sold = (await resp.json())["order"]
        known.update(
            agency_id="fz",
            order_no="FZ-1",
            order_id=sold["id"],
            ticket_id=sold["tickets"][0]["id"],
        )
        # A mini-program visitor, logged in through WeChat, with a held order of their own
        resp = await client.post("/api/wechat/login", json={"js_code": sim.issue_js_code("fz")})
        assert resp.status == 200, await resp.text()
        visitor["Authorization"] = f"Bearer {(await resp.json())['token']}"
        resp = await client.post(
            "/api/wechat/orders",
            json={
                "client_key": "fuzz-visitor-1",
                "product_id": "adult",
                "travel_date": TOMORROW.isoformat(),
                "slot": "09:00-11:00",
                "quantity": 1,
            },
            headers=visitor,
        )
        assert resp.status == 201, await resp.text()
        known["out_trade_no"] = (await resp.json())["order"]["out_trade_no"]
        return client

    with _Aiohttp(start) as hub:
        yield LiveHub(hub.base, known, _SignAsAgency(creds), visitor, bases["v3"])


@pytest.mark.timeout(600)  # a hang guard (pytest-timeout), not a speed assertion
def test_every_operation_keeps_its_documented_promises(live_hub: LiveHub) -> None:
    schema = schemathesis.openapi.from_url(f"{live_hub.base}/api/openapi.json")
    operations = [r.ok() for r in schema.get_all_operations()]
    assert len(operations) > 40
    failures: list[str] = []
    statuses: Counter[int] = Counter()
    for op in operations:
        security = (op.definition.raw.get("security") or [{}])[0]
        headers = next((HEADERS[s] for s in security if s in HEADERS), {})
        if "wechat-session" in security:
            headers = live_hub.visitor  # the mini-program sends its login token
        auth = live_hub.agency if "agency-hmac" in security else None
        names = {p.name for p in op.path_parameters}
        # Generated ids mostly meet a 404; the seed's ids reach the code behind it.
        fixed = {n: v for n, v in live_hub.known.items() if n in names}
        runs = [(GenerationMode.POSITIVE, {})] + (
            [(GenerationMode.POSITIVE, fixed)] if fixed else []
        )
        # A JSON body is also fuzzed with what its schema forbids: refused, never a 500.
        if "application/json" in op.definition.raw.get("requestBody", {}).get("content", {}):
            runs.append((GenerationMode.NEGATIVE, fixed))
        for mode, path_parameters in runs:
            base = live_hub.v3_base if "/notify/v3/" in op.path else live_hub.base
            run = _fuzz(op, mode, base, headers, auth, path_parameters, statuses)
            try:
                run()
            except (Exception, BaseExceptionGroup) as exc:  # an entry per broken promise
                inner = getattr(exc, "exceptions", None) or [exc]
                failures.append(f"{op.label}: " + "; ".join(str(e)[:600] for e in inner))
    assert not failures, "\n\n".join(failures)
    # the run reached past the doors: successes, and refusals of the code behind them
    assert statuses[200] + statuses[201] > 40 and statuses[404] and statuses[422], statuses


def _fuzz(
    op: Any,
    mode: GenerationMode,
    base: str,
    headers: dict[str, str],
    auth: requests.auth.AuthBase | None,
    path_parameters: dict[str, str],
    statuses: Counter[int],
) -> Any:
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=op.as_strategy(mode, path_parameters=path_parameters or None))
    def run(case: Any) -> None:
        response = case.call(base_url=base, headers=dict(headers), auth=auth, timeout=30)
        statuses[response.status_code] += 1
        case.validate_response(response, checks=CHECKS)

    return run

"""Bad input gets a JSON error with a code — never a 500, never a half-written order."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from hub.storage.tables import OrderRow
from tests.support import ADMIN, BOX, hub_client, hub_of, order_body, seed


async def count_orders(client: Any) -> int:
    async with hub_of(client).engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(OrderRow))).scalar_one())


async def test_staff_apis_need_their_token(aiohttp_client: Any, sqlite_url: str) -> None:
    client = await hub_client(aiohttp_client, sqlite_url)
    for headers in ({}, {"Authorization": "Bearer wrong"}, ADMIN):
        resp = await client.post("/api/boxoffice/orders", json=order_body(), headers=headers)
        assert (resp.status, (await resp.json())["code"]) == (401, "UNAUTHORIZED")
    resp = await client.put("/api/admin/venues/v1", json={"name": "x"}, headers=BOX)
    assert resp.status == 401


async def test_malformed_bodies_are_400_in_json(aiohttp_client: Any, sqlite_url: str) -> None:
    client = await hub_client(aiohttp_client, sqlite_url, max_body_bytes=4096)
    await seed(client)
    url = "/api/boxoffice/orders"
    cases: list[tuple[bytes, int, str]] = [
        (b"{not json", 400, "INVALID_REQUEST"),
        (b"[1,2,3]", 400, "INVALID_REQUEST"),
        ('{"travel_date": "é"}'.encode("latin-1"), 400, "INVALID_REQUEST"),
        # well-formed JSON that fails the model: 422, the fields named in details.errors
        (json.dumps({"travel_date": "2026-13-45", "lines": []}).encode(), 422, "INVALID_REQUEST"),
        (
            json.dumps(
                {**order_body(), "lines": [{"product_id": "adult", "quantity": -1}]}
            ).encode(),
            422,
            "INVALID_REQUEST",
        ),
        (json.dumps({**order_body(), "surprise": 1}).encode(), 422, "INVALID_REQUEST"),
        (b"{" + b" " * 5000 + b"}", 413, "BODY_TOO_LARGE"),
    ]
    for raw, status, code in cases:
        resp = await client.post(url, data=raw, headers={**BOX, "Content-Type": "application/json"})
        body = await resp.json()
        assert (resp.status, body["code"]) == (status, code), raw[:40]
        assert body["message"]
    assert await count_orders(client) == 0


async def test_unknown_routes_and_methods_answer_json(aiohttp_client: Any, sqlite_url: str) -> None:
    client = await hub_client(aiohttp_client, sqlite_url)
    resp = await client.get("/nope")
    assert (resp.status, (await resp.json())["code"]) == (404, "NOT_FOUND")
    resp = await client.delete("/api/boxoffice/orders")
    assert (resp.status, (await resp.json())["code"]) == (405, "METHOD_NOT_ALLOWED")


async def test_openapi_describes_every_route(aiohttp_client: Any, sqlite_url: str) -> None:
    client = await hub_client(aiohttp_client, sqlite_url)
    doc = await (await client.get("/api/openapi.json")).json()
    served = {
        (r.method.lower(), r.resource.canonical)
        for r in client.app.router.routes()
        if r.method != "HEAD"
        and r.resource is not None
        # the staff console's pages (hub.console) are HTML for people, not the API
        and not r.resource.canonical.startswith("/console")
    }
    described = {(m, p) for p, ops in doc["paths"].items() for m in ops}
    assert served == described
    assert "OrderIn" in doc["components"]["schemas"]


async def test_health_and_metrics(aiohttp_client: Any, sqlite_url: str) -> None:
    client = await hub_client(aiohttp_client, sqlite_url)
    assert (await (await client.get("/healthz")).json()) == {"status": "ok", "db": "sqlite"}
    await seed(client)
    await client.post("/api/boxoffice/orders", json=order_body(confirm=True), headers=BOX)
    text = await (await client.get("/metrics")).text()
    assert 'tickethub_orders_total{channel="boxoffice",outcome="ok"}' in text


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)
order_like = st.fixed_dictionaries(
    {},
    optional={
        "travel_date": st.sampled_from(["2026-11-23", "2020-01-01", "x", ""]) | json_values,
        "slot": st.sampled_from(["09:00-11:00", "", "25:00-26:00", "a-b"]) | json_values,
        "lines": st.lists(
            st.fixed_dictionaries(
                {
                    "product_id": st.sampled_from(["adult", "combo", "zz"]) | json_values,
                    "quantity": st.integers(-2, 2000) | json_values,
                }
            ),
            max_size=3,
        )
        | json_values,
        "visitors": st.lists(
            st.dictionaries(
                st.sampled_from(["name", "id_number", "id_type", "phone"]), json_values
            ),
            max_size=3,
        )
        | json_values,
        "confirm": json_values,
        "amount": json_values,
    },
)


async def test_fuzzed_orders_never_500(aiohttp_client: Any, sqlite_url: str) -> None:
    client = await hub_client(aiohttp_client, sqlite_url)
    await seed(client)
    seen: list[int] = []

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(body=order_like | json_values)
    async def one(body: Any) -> None:
        resp = await client.post("/api/boxoffice/orders", json=body, headers=BOX)
        data = await resp.json()
        seen.append(resp.status)
        assert resp.status < 500, (body, data)
        assert isinstance(data, dict) and ("order" in data or "code" in data)

    await _run_async_given(one)
    assert seen and all(s < 500 for s in seen)


async def _run_async_given(test: Any) -> None:
    """Hypothesis drives sync functions; run each example on this test's event loop."""
    import asyncio

    loop = asyncio.get_running_loop()
    inner = test.hypothesis.inner_test

    def sync(**kw: Any) -> None:
        fut = asyncio.run_coroutine_threadsafe(inner(**kw), loop)
        fut.result(timeout=30)

    test.hypothesis.inner_test = sync
    await loop.run_in_executor(None, test)


async def test_bad_venue_id_or_timezone_is_a_400_naming_the_field(
    aiohttp_client: Any, sqlite_url: str
) -> None:
    client = await hub_client(aiohttp_client, sqlite_url)
    for venue_id, body, field in (
        ("v1", {"name": "x", "timezone": "Mars/Base"}, "timezone"),
        ("bad id!", {"name": "x"}, "id"),
    ):
        resp = await client.put(f"/api/admin/venues/{venue_id}", json=body, headers=ADMIN)
        data = await resp.json()
        assert (resp.status, data["code"]) == (422, "INVALID_REQUEST")
        assert data["details"]["errors"][0]["field"] == field
    resp = await client.get("/api/venues/v1/keys")
    assert resp.status == 404  # nothing was written


async def test_a_day_in_the_query_is_checked_alike_on_every_staff_route(
    aiohttp_client: Any, sqlite_url: str
) -> None:
    """Admin reports, the gates' flow and the box office all read ``date`` the same way:
    missing or not a date is a 400 naming the parameter, never a 500."""
    client = await hub_client(aiohttp_client, sqlite_url)
    await seed(client)
    routes = [
        ("/api/admin/inventory?pool=main", ADMIN),
        ("/api/admin/audit?pool=main", ADMIN),
        ("/api/admin/flow?venue=v1", ADMIN),
        ("/api/boxoffice/availability?product_id=adult", BOX),
    ]
    for path, headers in routes:
        for bad in ("", "&date=", "&date=2026-02-30", "&date=tomorrow"):
            resp = await client.get(path + bad, headers=headers)
            body = await resp.json()
            assert (resp.status, body["code"]) == (400, "INVALID_REQUEST"), (path, bad)
            assert "date=YYYY-MM-DD" in body["message"], (path, bad, body)
        good = await client.get(path + "&date=2026-11-23", headers=headers)
        assert good.status == 200, (path, await good.text())
    resp = await client.get("/api/boxoffice/availability?date=2026-11-23", headers=BOX)
    assert (resp.status, (await resp.json())["code"]) == (400, "INVALID_REQUEST")

"""The served OpenAPI document says what the API reads and answers: a body on every PUT
and POST that reads one, schemas for the answers and for the error shape, the agency
API's HMAC signature described as what it is, and a 405 that lists the allowed methods.
The document is also a page to read (Redoc, vendored: nothing loaded from elsewhere)."""

from __future__ import annotations

import re
from typing import Any

from hub.api.public import REDOC
from hub.sdk.web.routing import Body
from tests.support import hub_client, hub_of


async def _doc(client: Any) -> dict[str, Any]:
    resp = await client.get("/api/openapi.json")
    assert resp.status == 200
    return dict(await resp.json())


async def test_every_put_and_post_says_what_body_it_reads(
    aiohttp_client: Any, sqlite_url: str
) -> None:
    client = await hub_client(aiohttp_client, sqlite_url)
    routes = hub_of(client).routes
    silent = [
        f"{d.method} {d.path}"
        for d in routes.docs
        if d.method in ("PUT", "POST") and d.body is None
    ]
    assert silent == [], "declare body=Model, a Body, or NO_BODY"
    doc = await _doc(client)
    with_body = {
        (m, p) for p, ops in doc["paths"].items() for m, op in ops.items() if "requestBody" in op
    }
    declared_empty = {
        (d.method.lower(), re.sub(r"{(\w+):[^{}]*}", r"{\1}", d.path))
        for d in routes.docs
        if isinstance(d.body, Body) and not d.body.content
    }
    writes = {(m, p) for p, ops in doc["paths"].items() for m in ops if m in ("put", "post")}
    assert writes == with_body | declared_empty
    assert len(declared_empty) <= 8  # credentials, approve, reject, no-shows, cancels


async def test_bodies_and_answers_have_schemas(aiohttp_client: Any, sqlite_url: str) -> None:
    client = await hub_client(aiohttp_client, sqlite_url)
    doc = await _doc(client)
    schemas = doc["components"]["schemas"]
    paths = doc["paths"]

    def body_schema(path: str, method: str, media: str = "application/json") -> Any:
        return paths[path][method]["requestBody"]["content"][media]["schema"]

    def answer(path: str, method: str, status: str) -> Any:
        return paths[path][method]["responses"][status]["content"]["application/json"]["schema"]

    product_in = body_schema("/api/admin/products/{product_id}", "put")["$ref"].split("/")[-1]
    assert schemas[product_in]["additionalProperties"] is False  # strict: unknown refused
    assert {"venue_id", "prices", "rules"} <= schemas[product_in]["properties"].keys()
    assert body_schema("/api/admin/products/{product_id}/rules", "put")["type"] == "object"
    assert (
        "image/jpeg"
        in paths["/api/admin/orders/{order_id}/visitors/{index}/face"]["put"]["requestBody"][
            "content"
        ]
    )
    assert "text/csv" in paths["/api/agency/rosters"]["post"]["requestBody"]["content"]
    assert "requestBody" in paths["/api/channels/ctrip"]["post"]
    # answers: the main ones have a schema, and refusals are the Error shape
    assert answer("/api/boxoffice/orders", "post", "201")["$ref"].endswith("/OrderOut")
    assert answer("/api/admin/inventory", "get", "200")["$ref"].endswith("/InventoryOut")
    assert answer("/api/agency/groups", "post", "201")["$ref"].endswith("/GroupView")
    assert answer("/api/boxoffice/orders", "post", "422") == {"$ref": "#/components/schemas/Error"}
    assert answer("/api/admin/allotments", "put", "default")["$ref"].endswith("/Error")
    assert schemas["Error"]["required"] == ["code", "message"]
    # a partner answers in its own envelope, never the hub's Error
    assert "content" not in paths["/api/channels/ctrip"]["post"]["responses"]["default"]


async def test_agency_security_is_an_hmac_signature_not_a_bearer_token(
    aiohttp_client: Any, sqlite_url: str
) -> None:
    client = await hub_client(aiohttp_client, sqlite_url)
    doc = await _doc(client)
    schemes = doc["components"]["securitySchemes"]
    hmac = schemes["agency-hmac"]
    assert (hmac["type"], hmac["in"], hmac["name"]) == ("apiKey", "header", "X-Signature")
    for header in ("X-Agency-Key", "X-Timestamp", "X-Nonce", "HMAC-SHA256", "SHA-256"):
        assert header in hmac["description"]
    assert schemes["admin"] == {**schemes["admin"], "type": "http", "scheme": "bearer"}
    assert doc["paths"]["/api/agency/groups"]["post"]["security"] == [{"agency-hmac": []}]


async def test_a_405_lists_the_allowed_methods(aiohttp_client: Any, sqlite_url: str) -> None:
    client = await hub_client(aiohttp_client, sqlite_url)
    for method, path, allowed in (
        ("DELETE", "/api/boxoffice/orders", {"POST"}),
        ("POST", "/api/admin/inventory", {"GET", "HEAD", "PUT"}),  # aiohttp serves HEAD
        ("GET", "/api/admin/agencies/a1/credentials", {"POST"}),
    ):
        resp = await client.request(method, path)
        assert (resp.status, (await resp.json())["code"]) == (405, "METHOD_NOT_ALLOWED")
        assert {m.strip() for m in resp.headers["Allow"].split(",")} == allowed, path


async def test_the_docs_page_loads_nothing_from_elsewhere(
    aiohttp_client: Any, sqlite_url: str
) -> None:
    client = await hub_client(aiohttp_client, sqlite_url)
    resp = await client.get("/api/docs")
    page = await resp.text()
    assert resp.status == 200 and resp.content_type == "text/html"
    assert 'spec-url="/api/openapi.json"' in page and "/api/docs/redoc.standalone.js" in page
    assert re.findall(r"(?:src|href)=\"(?:https?:)?//", page) == []
    csp = resp.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src 'self' blob:" in csp
    script = await client.get("/api/docs/redoc.standalone.js")
    data = await script.read()
    assert script.status == 200 and script.content_type == "text/javascript"
    assert data == REDOC.read_bytes() and b"redoc.standalone.js.LICENSE.txt" in data[:200]
    assert (REDOC.parent / "LICENSE").read_text().startswith("The MIT License")


async def test_the_mini_program_routes_name_their_login_session(
    aiohttp_client: Any, sqlite_url: str
) -> None:
    client = await hub_client(aiohttp_client, sqlite_url)
    doc = await _doc(client)
    assert doc["components"]["securitySchemes"]["wechat-session"]["scheme"] == "bearer"
    wechat = {
        (path, method): op
        for path, ops in doc["paths"].items()
        for method, op in ops.items()
        if path.startswith("/api/wechat/") and "/notify/" not in path
    }
    for (path, method), op in wechat.items():
        if path == "/api/wechat/login":
            assert "security" not in op
        else:
            assert op["security"] == [{"wechat-session": []}], (method, path)
            assert "401" in op["responses"], (method, path)

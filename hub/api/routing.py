"""Routes that describe themselves: every route is declared with its models, so
`/api/openapi.json` is generated from the same declarations that serve requests and can
never miss a route (a test checks the app's router against the document)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from pydantic import BaseModel

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class RouteDoc:
    method: str
    path: str
    summary: str
    tag: str
    body: type[BaseModel] | None = None
    query: dict[str, str] = field(default_factory=dict)
    responses: dict[int, str] = field(default_factory=dict)
    auth: str | None = None


class ApiRoutes:
    """A `web.RouteTableDef` that also keeps an OpenAPI description of each route."""

    def __init__(self) -> None:
        self.table = web.RouteTableDef()
        self.docs: list[RouteDoc] = []

    def route(
        self,
        method: str,
        path: str,
        *,
        summary: str,
        tag: str,
        body: type[BaseModel] | None = None,
        query: dict[str, str] | None = None,
        responses: dict[int, str] | None = None,
        auth: str | None = None,
    ) -> Callable[[Handler], Handler]:
        def deco(handler: Handler) -> Handler:
            self.table.route(method, path)(handler)
            self.docs.append(
                RouteDoc(
                    method.upper(), path, summary, tag, body, query or {}, responses or {}, auth
                )
            )
            return handler

        return deco

    def get(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("POST", path, **kw)

    def put(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("PUT", path, **kw)


_ERROR = {
    "type": "object",
    "required": ["code", "message"],
    "properties": {
        "code": {"type": "string"},
        "message": {"type": "string"},
        "details": {"type": "object"},
    },
}


_PATTERN = re.compile(r"{(\w+):[^{}]*}")


def openapi(docs: list[RouteDoc], *, title: str, version: str) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = {"Error": _ERROR}
    security: dict[str, Any] = {}
    for d in docs:
        path = _PATTERN.sub(r"{\1}", d.path)  # aiohttp's {name:regex} is OpenAPI's {name}
        slug = re.sub(r"[^a-z0-9]+", "_", path.lower()).strip("_")
        op: dict[str, Any] = {
            "summary": d.summary,
            "tags": [d.tag],
            "operationId": f"{d.method.lower()}_{slug}",
            "responses": {
                str(code): {"description": text}
                for code, text in (d.responses or {200: "OK"}).items()
            },
        }
        op["responses"].setdefault(
            "400",
            {
                "description": "Malformed input",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            },
        )
        params = [
            {"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
            for n in re.findall(r"{(\w+)}", path)
        ] + [
            {
                "name": n,
                "in": "query",
                "required": False,
                "schema": {"type": "string"},
                "description": text,
            }
            for n, text in d.query.items()
        ]
        if params:
            op["parameters"] = params
        if d.body is not None:
            name = d.body.__name__
            schema = d.body.model_json_schema(ref_template="#/components/schemas/{model}")
            for sub, sub_schema in schema.pop("$defs", {}).items():
                schemas[sub] = sub_schema
            schemas[name] = schema
            op["requestBody"] = {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}
                },
            }
        if d.auth:
            security[d.auth] = {"type": "http", "scheme": "bearer"}
            op["security"] = [{d.auth: []}]
        paths.setdefault(path, {})[d.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": security},
    }

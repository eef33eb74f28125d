"""Routes that describe themselves: every route is declared with its models, so
`/api/openapi.json` is generated from the same declarations that serve requests and can
never miss a route (a test checks the app's router against the document).

A route declares what it reads and what it answers:

- ``body``: a pydantic model (the JSON body `read_model` validates; its schema is the
  model's own), a `Body` for anything else (a JPEG, a CSV, a partner's envelope), or
  `NO_BODY`. Every PUT and POST says which (a test holds that).
- ``response``: the model or JSON schema of its 2xx answers; ``responses`` the statuses
  it answers with, each a description or ``(description, model or schema)``.
- ``auth``: the security scheme; `ApiRoutes.scheme` describes a scheme that is not one of
  the hub's bearer tokens (the agency API's HMAC signature).

Errors are the hub's `Error` shape on every route but a partner's (`partner_body`), whose
answers, refusals included, are in the partner's own envelope.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode, models_json_schema
from pydantic_core import core_schema

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
JsonSchema = dict[str, Any]
Schema = type[BaseModel] | JsonSchema
ResponseDoc = str | tuple[str, Schema]

BINARY: JsonSchema = {"type": "string", "format": "binary"}


@dataclass(frozen=True, slots=True)
class Body:
    """A request body that is not one JSON model: media type → JSON schema (``{}``: any
    bytes). ``partner``: the route speaks a partner's protocol, so its answers, refusals
    included, are the partner's envelope and not the hub's `Error`."""

    content: Mapping[str, JsonSchema]
    description: str = ""
    required: bool = True
    partner: bool = False


#: A PUT or POST that reads no body (the path and the token say it all).
NO_BODY = Body({}, "no body")


def raw_body(*media: str, description: str, schema: JsonSchema | None = None) -> Body:
    """The body is the file itself (a JPEG, a CSV or XLSX roster), not JSON."""
    return Body({m: dict(schema or BINARY) for m in media}, description)


def partner_body(description: str, *media: str, schema: JsonSchema | None = None) -> Body:
    """A partner's signed envelope, verified and parsed by its channel (not `read_model`)."""
    shape = schema if schema is not None else {"type": "object"}
    return Body({m: dict(shape) for m in media or ("application/json",)}, description, partner=True)


@dataclass(frozen=True, slots=True)
class RouteDoc:
    method: str
    path: str
    summary: str
    tag: str
    body: type[BaseModel] | Body | None = None
    query: dict[str, str] = field(default_factory=dict)
    responses: dict[int, ResponseDoc] = field(default_factory=dict)
    auth: str | None = None
    response: Schema | None = None
    body_required: bool = True
    headers: dict[str, str] = field(default_factory=dict)
    media: str = "application/json"


class ApiRoutes:
    """A `web.RouteTableDef` that also keeps an OpenAPI description of each route."""

    def __init__(self) -> None:
        self.table = web.RouteTableDef()
        self.docs: list[RouteDoc] = []
        self.schemes: dict[str, JsonSchema] = dict(BEARER_SCHEMES)
        self._document: dict[str, Any] | None = None

    def route(
        self,
        method: str,
        path: str,
        *,
        summary: str,
        tag: str,
        body: type[BaseModel] | Body | None = None,
        query: dict[str, str] | None = None,
        responses: dict[int, ResponseDoc] | None = None,
        auth: str | None = None,
        response: Schema | None = None,
        body_required: bool = True,
        headers: dict[str, str] | None = None,
        media: str = "application/json",
    ) -> Callable[[Handler], Handler]:
        """``headers``: request headers a client may send (name → description);
        ``media``: the media type of the 2xx answers (``response`` describes them)."""

        def deco(handler: Handler) -> Handler:
            self.table.route(method, path)(handler)
            self.docs.append(
                RouteDoc(
                    method.upper(),
                    path,
                    summary,
                    tag,
                    body,
                    query or {},
                    responses or {},
                    auth,
                    response,
                    body_required,
                    headers or {},
                    media,
                )
            )
            self._document = None
            return handler

        return deco

    def get(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("POST", path, **kw)

    def put(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("PUT", path, **kw)

    def scheme(self, name: str, description: JsonSchema) -> None:
        """Describe the security scheme ``auth=name`` stands for (OpenAPI's Security
        Scheme Object); a name never described is a bearer token."""
        self.schemes[name] = description
        self._document = None

    def document(self, *, title: str, version: str) -> dict[str, Any]:
        """The OpenAPI document (built once: routes are fixed before the app starts)."""
        if self._document is None or self._document["info"]["version"] != version:
            self._document = openapi(self.docs, title=title, version=version, schemes=self.schemes)
        return self._document


BEARER_SCHEMES: dict[str, JsonSchema] = {
    "admin": {
        "type": "http",
        "scheme": "bearer",
        "description": "Venue staff: `Authorization: Bearer $TICKETHUB_ADMIN_TOKEN`.",
    },
    "boxoffice": {
        "type": "http",
        "scheme": "bearer",
        "description": "Box office and kiosks: `Authorization: Bearer $TICKETHUB_BOXOFFICE_TOKEN`.",
    },
    "staff": {
        "type": "http",
        "scheme": "bearer",
        "description": "Either staff token: the admin or the box-office one.",
    },
    "bridge": {
        "type": "http",
        "scheme": "bearer",
        "description": "A venue bridge: its venue's token from `TICKETHUB_BRIDGE_TOKENS`; a "
        "token opens exactly one venue.",
    },
}

_ERROR: JsonSchema = {
    "type": "object",
    "description": "Every refusal of the hub's own API. `code` is stable and machine-readable; "
    "`message` is for people. An input that fails its model is a 422 whose "
    "`details.errors` names each field (`lines.0.quantity`).",
    "required": ["code", "message"],
    "properties": {
        "code": {"type": "string"},
        "message": {"type": "string"},
        "details": {
            "type": "object",
            "properties": {
                "errors": {
                    "type": "array",
                    "items": {"type": "object"},
                    "description": "per field (`field`, `problem`) or per roster row",
                }
            },
        },
    },
}
_ERROR_REF = {"$ref": "#/components/schemas/Error"}


class _RequestSchemas(GenerateJsonSchema):
    """Request bodies are read strictly (`read_model`): JSON types exactly as described
    and no field the model does not name, at any depth."""

    def model_schema(self, schema: core_schema.ModelSchema) -> JsonSchema:
        js = super().model_schema(schema)
        if self.mode == "validation" and js.get("type") == "object":
            js.setdefault("additionalProperties", False)
        return js


_PATTERN = re.compile(r"{(\w+):[^{}]*}")


def _models(docs: list[RouteDoc]) -> list[tuple[type[BaseModel], JsonSchemaMode]]:
    seen: dict[tuple[type[BaseModel], JsonSchemaMode], None] = {}

    def add(schema: Any, mode: JsonSchemaMode) -> None:
        if isinstance(schema, type) and issubclass(schema, BaseModel):
            seen[(schema, mode)] = None

    for d in docs:
        add(d.body, "validation")
        add(d.response, "serialization")
        for text in d.responses.values():
            if isinstance(text, tuple):
                add(text[1], "serialization")
    return list(seen)


def _content(media: str, schema: JsonSchema | None) -> dict[str, Any]:
    return {media: {"schema": schema} if schema is not None else {}}


def openapi(
    docs: list[RouteDoc],
    *,
    title: str,
    version: str,
    schemes: Mapping[str, JsonSchema] | None = None,
) -> dict[str, Any]:
    pairs = _models(docs)
    refs, defs = models_json_schema(
        pairs, ref_template="#/components/schemas/{model}", schema_generator=_RequestSchemas
    )
    schemas: dict[str, Any] = {"Error": _ERROR, **defs.get("$defs", {})}

    def resolve(schema: Schema | None, mode: JsonSchemaMode) -> JsonSchema | None:
        if schema is None:
            return None
        if isinstance(schema, dict):
            return schema
        return dict(refs[(schema, mode)])

    known = dict(BEARER_SCHEMES, **(schemes or {}))
    paths: dict[str, dict[str, Any]] = {}
    security: dict[str, Any] = {}
    for d in docs:
        path = _PATTERN.sub(r"{\1}", d.path)  # aiohttp's {name:regex} is OpenAPI's {name}
        slug = re.sub(r"[^a-z0-9]+", "_", path.lower()).strip("_")
        partner = isinstance(d.body, Body) and d.body.partner
        ok = resolve(d.response, "serialization")
        declared = d.responses or {200: "OK"}
        if not any(200 <= c < 300 for c in declared):
            declared = {200: "OK", **declared}
        responses: dict[str, Any] = {}
        for code, text in sorted(declared.items()):
            if isinstance(text, tuple):
                text, schema = text[0], resolve(text[1], "serialization")
            else:
                schema = ok if 200 <= code < 300 else None
            entry: dict[str, Any] = {"description": text}
            if 200 <= code < 300:
                if schema is not None or d.media != "application/json":
                    entry["content"] = _content(d.media, schema)
            elif not partner:
                entry["content"] = _content("application/json", schema or _ERROR_REF)
            responses[str(code)] = entry
        op: dict[str, Any] = {
            "summary": d.summary,
            "tags": [d.tag],
            "operationId": f"{d.method.lower()}_{slug}",
        }
        params: list[dict[str, Any]] = [
            {"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
            for n in re.findall(r"{(\w+)}", path)
        ]
        params += [
            {
                "name": n,
                "in": "query",
                "required": False,
                "schema": {"type": "string"},
                "description": text,
            }
            for n, text in d.query.items()
        ]
        params += [
            {
                "name": n,
                "in": "header",
                "required": False,
                "schema": {"type": "string"},
                "description": text,
            }
            for n, text in d.headers.items()
        ]
        if params:
            op["parameters"] = params
        reads_body = False
        if isinstance(d.body, Body):
            if d.body.content:
                reads_body = True
                op["requestBody"] = {
                    "description": d.body.description,
                    "required": d.body.required,
                    "content": {m: {"schema": s} for m, s in d.body.content.items()},
                }
        elif d.body is not None:
            reads_body = True
            op["requestBody"] = {
                "required": d.body_required,
                "content": {"application/json": {"schema": resolve(d.body, "validation")}},
            }
        if partner:
            responses.setdefault(
                "default", {"description": "any other answer: the partner's own envelope"}
            )
        else:
            standard: dict[str, str] = {}
            if reads_body:
                standard["400"] = "Malformed body (not JSON, not an object)"
                standard["413"] = "Body too large"
            if d.body is not None and not isinstance(d.body, Body):
                standard["422"] = "A field is missing, of the wrong type or out of range"
            if d.auth:
                standard["401"] = "Missing or wrong credentials"
            for code, text in standard.items():
                responses.setdefault(
                    code, {"description": text, "content": _content("application/json", _ERROR_REF)}
                )
            responses["default"] = {
                "description": "Any other refusal",
                "content": _content("application/json", _ERROR_REF),
            }
        op["responses"] = dict(sorted(responses.items(), key=lambda kv: _status_key(kv[0])))
        if d.auth:
            security[d.auth] = known.get(d.auth, {"type": "http", "scheme": "bearer"})
            op["security"] = [{d.auth: []}]
        paths.setdefault(path, {})[d.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": version,
            "description": "Errors are `Error` objects (`code`, `message`, `details`) except on "
            "partner routes, which answer in the partner's envelope. A method a path does "
            "not serve is a 405 whose `Allow` header lists the ones it does.",
        },
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": security},
    }


def _status_key(code: str) -> tuple[int, str]:
    return (int(code), "") if code.isdigit() else (1000, code)

"""Errors are JSON ``{"code", "message"}`` — never an HTML page, never a 500 for bad input.

Handlers raise `ApiError` or `DeniedError`; request bodies go through `read_model`, which
turns every way a body can be wrong into an answer that names the problem: not JSON, wrong
encoding or not an object is a 400, too large a 413, and JSON that fails the model a 422
whose ``details.errors`` names each field. The model is applied strictly: ``"1"`` is not
the integer 1, ``false`` is not 0, and a field the model does not name is refused.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any, Literal, TypeVar

import orjson
from aiohttp import web
from pydantic import BaseModel, ValidationError

from hub import jsonutil
from hub.domain.digits import ascii_int
from hub.domain.errors import DeniedError
from hub.metrics import HTTP_ERRORS
from hub.orders.outcome import Outcome, status_for

log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)
MAX_BODY = web.AppKey("max_body", int)


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details


def path_id(request: web.Request, key: str, code: str, what: str) -> int:
    """The numeric row id in the URL, or 404 ``code`` (an id that is not one names no row)."""
    raw = request.match_info[key]
    value = ascii_int(raw)
    if value is None:
        raise ApiError(404, code, f"No {what} {raw[:40]}")
    return value


def query_day(request: web.Request, name: str = "date") -> date:
    """The ``YYYY-MM-DD`` query parameter ``name``; missing or not a date is a 400 that
    names the parameter, never a 500."""
    try:
        return date.fromisoformat(request.query[name])
    except (KeyError, ValueError) as exc:
        raise ApiError(400, "INVALID_REQUEST", f"{name}=YYYY-MM-DD is required") from exc


def error_response(
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    HTTP_ERRORS.labels(code).inc()
    body: dict[str, Any] = {"code": code, "message": message}
    if details:
        body["details"] = details
    return web.json_response(body, status=status, headers=headers, dumps=jsonutil.dumps)


def outcome_response(outcome: Outcome) -> web.Response:
    headers = {"Idempotent-Replay": "true"} if outcome.replay else None
    if outcome.retry_after is not None:  # shed under overload (503): when to come back
        headers = {**(headers or {}), "Retry-After": str(outcome.retry_after)}
    if not outcome.ok:
        HTTP_ERRORS.labels(outcome.code or "?").inc()
    return web.json_response(
        outcome.body, status=outcome.status, headers=headers, dumps=jsonutil.dumps
    )


async def read_json(request: web.Request) -> Any:
    if request.content_length is not None and request.content_length > request.app[MAX_BODY]:
        raise ApiError(413, "BODY_TOO_LARGE", "Request body too large")
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge as exc:
        raise ApiError(413, "BODY_TOO_LARGE", "Request body too large") from exc
    try:
        return jsonutil.loads(raw)
    except orjson.JSONDecodeError as exc:
        # orjson refuses invalid UTF-8 as well as invalid JSON; both are the caller's bug.
        raise ApiError(400, "INVALID_REQUEST", f"Body is not UTF-8 JSON: {exc}") from exc


async def read_model(
    request: web.Request,
    model: type[M],
    *,
    unknown: Literal["forbid", "model"] = "forbid",
    **overrides: Any,
) -> M:
    """The body as `model`, strictly (JSON types as the schema says); ``overrides`` are
    fields taken from elsewhere (the path). ``unknown="forbid"`` refuses any field the
    models do not name, at every depth; ``"model"`` leaves that to each model's own
    ``extra`` setting (a bridge upload, whose newer versions may send more)."""
    data = await read_json(request)
    if not isinstance(data, dict):
        raise ApiError(400, "INVALID_REQUEST", "Body must be a JSON object")
    return validate_strict(
        model, {**data, **overrides}, extra="forbid" if unknown == "forbid" else None
    )


def validate_strict(
    model: type[M], data: dict[str, Any], *, extra: Literal["forbid"] | None = "forbid"
) -> M:
    """Validate parsed JSON in pydantic's strict JSON mode (dates from ISO strings, but no
    number from a string and no number from a boolean); a failure is a 422 naming the
    fields."""
    try:
        return model.model_validate_json(jsonutil.dumps(data), strict=True, extra=extra)
    except ValidationError as exc:
        raise invalid(exc) from exc


def invalid(exc: ValidationError) -> ApiError:
    return ApiError(422, "INVALID_REQUEST", _first_error(exc), errors=_errors(exc))


def _errors(exc: ValidationError) -> list[dict[str, str]]:
    return [
        {"field": ".".join(str(p) for p in e["loc"]), "problem": e["msg"]}
        for e in exc.errors(include_url=False, include_input=False)
    ][:20]


def _first_error(exc: ValidationError) -> str:
    e = exc.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(p) for p in e["loc"]) or "body"
    return f"{where}: {e['msg']}"


@web.middleware
async def error_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(exc.status, exc.code, exc.message, exc.details)
    except DeniedError as exc:
        d = exc.denial
        return error_response(status_for(str(d.code)), str(d.code), d.reason, d.details)
    except ValidationError as exc:
        return error_response(422, "INVALID_REQUEST", _first_error(exc), {"errors": _errors(exc)})
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "BODY_TOO_LARGE"}.get(
            exc.status, "HTTP_ERROR"
        )
        headers = None
        if isinstance(exc, web.HTTPMethodNotAllowed):
            # RFC 9110: a 405 lists the methods the resource does serve.
            headers = {"Allow": ", ".join(sorted(exc.allowed_methods))}
        return error_response(exc.status, code, exc.reason, headers=headers)
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "INTERNAL", "Internal error")

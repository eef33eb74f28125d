"""Reading requests: every way a body, a query or a path parameter can be wrong becomes an
`ApiError` that names the problem, never a 500.

Bodies go through `read_model`: not JSON, wrong encoding or not an object is a 400, too
large a 413 (the limit is the application's `MAX_BODY`), and JSON that fails the model a
422 whose ``details.errors`` names each field. The model is applied strictly: ``"1"`` is
not the integer 1, ``false`` is not 0, and a field the model does not name is refused.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal, TypeVar

import orjson
from aiohttp import web
from pydantic import BaseModel, ValidationError

from hub import jsonutil
from hub.domain.digits import ascii_int
from hub.sdk.web.errors import ApiError, invalid

M = TypeVar("M", bound=BaseModel)
MAX_BODY = web.AppKey("max_body", int)


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

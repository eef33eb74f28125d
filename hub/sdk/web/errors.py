"""Errors are JSON ``{"code", "message"}`` — never an HTML page, never a 500 for bad input.

Handlers raise `ApiError` or `DeniedError` (or let a pydantic `ValidationError` escape);
`error_middleware` turns each into its JSON answer, and `outcome_response` answers an
order service `Outcome`. Reading requests (bodies, query and path parameters) is
`hub.sdk.web.parsing`.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from hub import jsonutil
from hub.domain.errors import DeniedError
from hub.metrics import HTTP_ERRORS
from hub.sdk.outcome import Outcome, status_for

log = logging.getLogger(__name__)


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details


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


def invalid(exc: ValidationError) -> ApiError:
    """The 422 for a body that fails its model, naming each field (at most 20)."""
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

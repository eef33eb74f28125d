"""The web helpers every HTTP-facing plugin (and the bridge's own API) uses: routes that
declare their body and answers (`ApiRoutes`, for the OpenAPI document), JSON errors in
the caller's vocabulary, strict request parsing, bearer auth, inbound rate limits, and
the JSON codec. Import-light: aiohttp and pydantic, no order service, no storage."""

from __future__ import annotations

from hub.jsonutil import dumps as json_dumps
from hub.jsonutil import loads as json_loads
from hub.ratelimit import TokenBuckets
from hub.sdk.web.auth import bearer_matches, require_bearer
from hub.sdk.web.errors import (
    ApiError,
    error_middleware,
    error_response,
    invalid,
    outcome_response,
)
from hub.sdk.web.parsing import (
    MAX_BODY,
    path_id,
    query_day,
    read_json,
    read_model,
    validate_strict,
)
from hub.sdk.web.routing import NO_BODY, ApiRoutes, Body, JsonSchema, partner_body, raw_body

__all__ = [
    "MAX_BODY",
    "NO_BODY",
    "ApiError",
    "ApiRoutes",
    "Body",
    "JsonSchema",
    "TokenBuckets",
    "bearer_matches",
    "error_middleware",
    "error_response",
    "invalid",
    "json_dumps",
    "json_loads",
    "outcome_response",
    "partner_body",
    "path_id",
    "query_day",
    "raw_body",
    "read_json",
    "read_model",
    "require_bearer",
    "validate_strict",
]

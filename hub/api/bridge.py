"""Routes of the venue bridges (credentials down, decisions up) and the staff views of
what the gates did (flow, conflicts).

A bridge authenticates with its venue's token (``TICKETHUB_BRIDGE_TOKENS``, a JSON map
venue id → token): a token opens exactly one venue, so a stolen bridge token can neither
read another venue's tickets nor record entries there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from hub.alerts.health import HeartbeatIn
from hub.api.staff import require_venue, staff_hub
from hub.catalog.gates import gate_map
from hub.redemptions import feed
from hub.redemptions.upload_models import UploadIn
from hub.redemptions.uploads import RedemptionRecorder
from hub.sdk.web.auth import bearer_matches
from hub.sdk.web.errors import ApiError
from hub.sdk.web.parsing import query_day, read_model
from hub.sdk.web.routing import ApiRoutes, JsonSchema
from hub.storage.db import reader

if TYPE_CHECKING:
    from hub.api.app import Hub


def _obj(properties: dict[str, JsonSchema], required: list[str] | None = None) -> JsonSchema:
    return {"type": "object", "required": required or list(properties), "properties": properties}


_S: JsonSchema = {"type": "string"}
_I: JsonSchema = {"type": "integer"}
_LIST: JsonSchema = {"type": "array", "items": {"type": "object"}}
CONFIG = _obj(
    {
        "venue": _obj({"id": _S, "name": _S, "timezone": _S}),
        "keys": {"type": "array", "items": _obj({"key_id": _I, "public_key": _S})},
        "products": _LIST,
        "gates": {"type": "object", "additionalProperties": _S},
        "server_time": {"type": "string", "format": "date-time"},
    }
)
CHANGES = _obj(
    {
        "tickets": {
            "type": "array",
            "items": _obj({"id": _S, "order_id": _S, "state": _S, "seq": _I}),
        },
        "cursor": _S,
        "more": {"type": "boolean"},
    }
)
UPLOADED = _obj(
    {
        "recorded": _I,
        "duplicates": _I,
        "counted": _I,
        "conflicts": {"type": "array", "items": _S},
    }
)
FLOW = _obj(
    {"venue_id": _S, "date": _S, "entries": _I, "exits": _I, "in_park": _I},
)
CONFLICTS = _obj({"conflicts": _LIST})
BACKFILLED = _obj({"tickets": {}, "created": {"type": "array"}, "entries": UPLOADED})


def _hub(request: web.Request) -> Hub:
    from hub.api.app import HUB

    return request.app[HUB]


async def _seen(request: web.Request, venue_id: str) -> None:
    """An authenticated bridge call: the venue's bridge is online (``bridge_offline``)."""
    hub = _hub(request)
    await hub.alerts.bridges.saw(venue_id, hub.clock.now())


def _bridge_auth(request: web.Request, venue_id: str) -> None:
    token = _hub(request).settings.bridge_tokens.get(venue_id, "")
    if not bearer_matches(request, token):
        raise ApiError(401, "UNAUTHORIZED", "Missing or wrong bridge token for this venue")


bridge_auth = _bridge_auth  # the face photo route (`hub.api.faces`) checks the same token


def recorder(hub: Hub) -> RedemptionRecorder:
    return RedemptionRecorder(
        hub.engine,
        plugins=hub.plugins,
        enqueue=hub.outbox.enqueue,
        ids=hub.orders.ids,
        tz_of=hub.catalog.tz,
        now=hub.clock.now,
        on_change=hub.wall.touch,
    )


def add_routes(routes: ApiRoutes) -> None:
    add_backfill_route(routes)

    @routes.get(
        "/api/bridge/venues/{venue_id}/config",
        summary="What a bridge needs to decide offline: timezone, keys, products",
        tag="bridge",
        auth="bridge",
        responses={200: "config", 401: "wrong token", 404: "unknown venue"},
        response=CONFIG,
    )
    async def config(request: web.Request) -> web.Response:
        venue_id = request.match_info["venue_id"]
        _bridge_auth(request, venue_id)
        await _seen(request, venue_id)
        hub = _hub(request)
        found = await hub.catalog.venue(venue_id)
        if found is None:
            raise ApiError(404, "UNKNOWN_VENUE", "No such venue")
        venue, keys = found
        products = await hub.catalog.products(venue_id)
        async with reader(hub.engine).connect() as conn:
            gates = await gate_map(conn, venue_id)
        return web.json_response(
            {
                "venue": {"id": venue.id, "name": venue.name, "timezone": venue.timezone},
                "keys": [{"key_id": keys.key_id, "public_key": keys.public_key}],
                "products": [p.model_dump(mode="json") for p in products],
                "gates": gates,  # gate → attraction: a combo's part at each gate
                "server_time": hub.clock.now().isoformat(),
            }
        )

    @routes.post(
        "/api/bridge/venues/{venue_id}/heartbeat",
        summary="A bridge's liveness probe and health report (its link, backlog and "
        "devices); answers the hub's clock and the bridge's skew",
        tag="bridge",
        auth="bridge",
        body=HeartbeatIn,
        responses={200: "alive", 401: "wrong token", 422: "not a heartbeat"},
    )
    async def heartbeat(request: web.Request) -> web.Response:
        # Bridges send this every few seconds while offline or on a backup link to notice
        # the hub (or a preferred link) is back, and after every sync round with their
        # health: it must stay cheap — the report is written only when it says something
        # new or every few seconds (`hub.alerts.health`), never per call.
        venue_id = request.match_info["venue_id"]
        _bridge_auth(request, venue_id)
        body = await read_model(request, HeartbeatIn)
        hub = _hub(request)
        now = hub.clock.now()
        await hub.alerts.health.report(venue_id, body, now)
        return web.json_response({"server_time": now.isoformat(), "skew_s": body.skew(now)})

    @routes.get(
        "/api/bridge/venues/{venue_id}/changes",
        summary="Ticket changes after a cursor (issue, revoke, refund, replace, redeem)",
        tag="bridge",
        auth="bridge",
        query={"cursor": "as returned by the previous page ('' = start)", "limit": "≤ 5000"},
        responses={200: "a page", 400: "bad cursor", 401: "wrong token"},
        response=CHANGES,
    )
    async def changes(request: web.Request) -> web.Response:
        venue_id = request.match_info["venue_id"]
        _bridge_auth(request, venue_id)
        await _seen(request, venue_id)
        try:
            limit = int(request.query.get("limit", "1000"))
            page = await feed.changes_since(
                _hub(request).engine,
                venue_id,
                request.query.get("cursor", ""),
                limit,
                _hub(request).orders.ids,
            )
        except ValueError as exc:  # CursorError included
            raise ApiError(400, "INVALID_REQUEST", str(exc)) from exc
        return web.json_response(page)

    @routes.post(
        "/api/bridge/venues/{venue_id}/redemptions",
        summary="Upload gate decisions; each id is recorded once whatever the retries",
        tag="bridge",
        auth="bridge",
        body=UploadIn,
        responses={
            200: "recorded (new / duplicates / conflicts)",
            401: "wrong token",
            404: "unknown venue",
        },
        response=UPLOADED,
    )
    async def upload(request: web.Request) -> web.Response:
        venue_id = request.match_info["venue_id"]
        _bridge_auth(request, venue_id)
        await _seen(request, venue_id)
        hub = _hub(request)
        await require_venue(hub, venue_id)
        # A newer bridge may send more about each decision: its model ignores what it
        # does not know (the types are still strict).
        body = await read_model(request, UploadIn, unknown="model")
        result = await recorder(hub).record(venue_id, body, on_calls=hub.outbox.notify)
        return web.json_response(result.as_dict())

    @routes.get(
        "/api/admin/flow",
        summary="Entries, exits and in-park count of a venue on a day",
        tag="admin",
        auth="admin",
        query={"venue": "venue id", "date": "YYYY-MM-DD (venue-local)"},
        response=FLOW,
    )
    async def flow(request: web.Request) -> web.Response:
        hub = staff_hub(request)
        day = query_day(request)
        return web.json_response(await feed.flow(hub.engine, request.query.get("venue", ""), day))

    @routes.get(
        "/api/admin/redemptions/conflicts",
        summary="Admissions that could not count (double use at offline bridges, refunded)",
        tag="admin",
        auth="admin",
        query={"venue": "venue id"},
        response=CONFLICTS,
    )
    async def conflicts(request: web.Request) -> web.Response:
        hub = staff_hub(request)
        venue_id = request.query.get("venue", "")
        return web.json_response({"conflicts": await feed.conflicts(hub.engine, venue_id)})


def add_backfill_route(routes: ApiRoutes) -> None:
    from hub.redemptions.backfill import BackfillError, BackfillIn, backfill

    @routes.post(
        "/api/admin/backfill",
        summary="Enter paper tickets sold during a total outage (idempotent per paper number)",
        tag="admin",
        auth="admin",
        body=BackfillIn,
        responses={200: "tickets created or found; used ones recorded", 400: "bad sheet"},
        response=BACKFILLED,
    )
    async def enter_paper(request: web.Request) -> web.Response:
        hub = staff_hub(request)
        body = await read_model(request, BackfillIn)
        try:
            result = await backfill(hub.catalog, recorder(hub), body, hub.clock.now())
        except BackfillError as exc:
            raise ApiError(400, "INVALID_REQUEST", str(exc)) from exc
        hub.outbox.notify()
        return web.json_response(result)

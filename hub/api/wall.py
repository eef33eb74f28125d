"""Admin API of the flow wall: one snapshot of a venue (``GET /api/admin/wall``) and the
live stream of them (``GET /api/admin/wall/stream``, server-sent events).

The figures come from `hub.wall` (counters only); `stream_wall` is the whole stream and
takes no token of its own, so the console can serve the same stream behind its staff
session."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from aiohttp import web
from aiohttp_sse import EventSourceResponse, sse_response

from hub import jsonutil
from hub.api.staff import staff_hub
from hub.sdk.web.errors import ApiError
from hub.sdk.web.routing import ApiRoutes, JsonSchema
from hub.tasks import cancel_and_wait
from hub.wall.stream import FeedClosed, UnknownVenue

if TYPE_CHECKING:
    from hub.api.app import Hub

_I: JsonSchema = {"type": "integer"}
_LIST: JsonSchema = {"type": "array", "items": {"type": "object"}}
WALL: JsonSchema = {
    "type": "object",
    "description": "one venue's flow wall (figures of the venue's day, venue-local)",
    "required": ["venue", "day", "at", "in_park", "curve", "gates", "slots", "sales"],
    "properties": {
        "venue": {"type": "object"},
        "day": {"type": "string", "format": "date"},
        "at": {"type": "string", "format": "date-time"},
        "in_park": {
            "type": "object",
            "description": "now = entries - exits; maximum: the venue's (or its in-park "
            "alert rule's), null when none is set",
        },
        "curve": {**_LIST, "description": "in-park at the end of each 5-minute bucket"},
        "bucket_minutes": _I,
        "gates": {**_LIST, "description": "per gate: entries, exits, 5-minute buckets"},
        "slots": {**_LIST, "description": "today's slots: sold, arrived, not_arrived (units)"},
        "sales": {
            "type": "object",
            "description": "per channel: orders, tickets, amount (fen), "
            "refunded_tickets, refunded_amount; and totals",
        },
        "outbox": {"type": "object", "description": "pending, inflight, dead; by_partner"},
        "conflicts": {**_I, "description": "admissions today that could not count"},
        "alerts": {"type": "object", "description": "open and acknowledged alerts"},
        "bridges": _LIST,
        "devices": _LIST,
    },
}
QUERY = {"venue": "venue id"}


def _venue(request: web.Request) -> str:
    venue_id = request.query.get("venue", "")
    if not venue_id:
        raise ApiError(400, "INVALID_REQUEST", "venue=<venue id> is required")
    return venue_id


#: a wall that takes longer than this to accept one snapshot is stalled: dropped (it
#: reconnects), so a stuck screen never holds the hub's buffers
SEND_TIMEOUT_SECONDS = 10.0


async def _send(request: web.Request, resp: EventSourceResponse, frame: bytes) -> None:
    """Write one whole, already encoded event (the same bytes for every stream)."""
    try:
        async with asyncio.timeout(SEND_TIMEOUT_SECONDS):
            await resp.write(frame)
    except TimeoutError:
        resp.stop_streaming()
        if request.transport is not None:
            request.transport.abort()
        raise ConnectionResetError("a wall stopped reading") from None


async def stream_wall(request: web.Request, hub: Hub, venue_id: str) -> web.StreamResponse:
    """Server-sent events: an ``event: snapshot`` with the whole wall at once, then one
    each time its figures change (coalesced, `hub.wall.stream`). The caller checked who
    may watch. Per stream and snapshot: one wake-up and one write of the bytes the
    builder encoded once for all its streams."""
    try:
        async with hub.wall.subscribe(venue_id) as subscription:
            await subscription.next()
            async with sse_response(request) as resp:
                # the ping task ends when the client goes: stop waiting for snapshots then
                closed = asyncio.create_task(resp.wait())
                try:
                    while True:
                        await _send(request, resp, subscription.frame)
                        if not await subscription.wait(closed):
                            break
                        subscription.take()
                except (ConnectionResetError, FeedClosed):
                    pass  # the client went while we wrote, or the hub is stopping
                finally:
                    await cancel_and_wait(closed)
            return resp
    except UnknownVenue:
        raise ApiError(404, "UNKNOWN_VENUE", f"No venue {venue_id}") from None
    except FeedClosed:
        raise ApiError(503, "SHUTTING_DOWN", "The hub is stopping; reconnect") from None


def add_routes(routes: ApiRoutes) -> None:
    @routes.get(
        "/api/admin/wall",
        summary="A venue's flow wall now: in-park, gates, slots, sales, outbox, alerts, bridges",
        tag="admin",
        auth="admin",
        query=QUERY,
        responses={200: "the wall", 400: "no venue given", 404: "unknown venue"},
        response=WALL,
    )
    async def get_wall(request: web.Request) -> web.Response:
        hub = staff_hub(request)
        venue_id = _venue(request)
        built = await hub.wall.snapshot(venue_id)
        if built is None:
            raise ApiError(404, "UNKNOWN_VENUE", f"No venue {venue_id}")
        return web.json_response(built, dumps=jsonutil.dumps)

    @routes.get(
        "/api/admin/wall/stream",
        summary="The venue's flow wall live (server-sent events, one 'snapshot' event per "
        "change, at most a few per second)",
        tag="admin",
        auth="admin",
        query=QUERY,
        responses={
            200: "an event stream",
            400: "no venue given",
            404: "unknown venue",
            503: "the hub is stopping",
        },
        response={"type": "string", "description": "text/event-stream of 'snapshot' events"},
        media="text/event-stream",
    )
    async def get_stream(request: web.Request) -> web.StreamResponse:
        hub = staff_hub(request)
        return await stream_wall(request, hub, _venue(request))

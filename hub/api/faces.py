"""Face photos over HTTP: staff enroll or withdraw a visitor's face (admin or box-office
token), a venue's bridge reads the photo of one of its tickets (bridge token).

The photo travels as the request body itself (``Content-Type: image/jpeg``), never inside
JSON, and leaves the hub only on the bridge route, to the bridge of the ticket's venue.
The photo-reading helpers they share with the mini-program live in `hub.sdk.faces`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from hub.sdk.faces import PHOTO, FaceError, face_error, read_photo, visitor_index
from hub.sdk.web.auth import require_bearer
from hub.sdk.web.errors import ApiError
from hub.sdk.web.routing import ApiRoutes, JsonSchema

if TYPE_CHECKING:
    from hub.api.app import Hub
    from hub.domain import Order

FACE_PATH = "/api/admin/orders/{order_id}/visitors/{index}/face"


ENROLLED: JsonSchema = {
    "type": "object",
    "required": ["order_id", "visitor", "ticket_id", "face"],
    "properties": {
        "order_id": {"type": "string"},
        "visitor": {"type": "integer"},
        "ticket_id": {"type": "string"},
        "face": {
            "type": "object",
            "required": ["width", "height", "bytes", "enrolled_at", "replaced"],
            "properties": {
                "width": {"type": "integer"},
                "height": {"type": "integer"},
                "bytes": {"type": "integer"},
                "enrolled_at": {"type": "string", "format": "date-time"},
                "replaced": {"type": "boolean"},
            },
        },
    },
}
REMOVED: JsonSchema = {
    "type": "object",
    "required": ["order_id", "visitor", "removed"],
    "properties": {
        "order_id": {"type": "string"},
        "visitor": {"type": "integer"},
        "removed": {"type": "boolean"},
    },
}


def _hub(request: web.Request) -> Hub:
    from hub.api.app import HUB

    return request.app[HUB]


def _staff(request: web.Request) -> Hub:
    hub = _hub(request)
    require_bearer(request, hub.settings.admin_token, hub.settings.boxoffice_token)
    return hub


async def _order(hub: Hub, request: web.Request) -> Order:
    order = await hub.orders.get(request.match_info["order_id"][:64])
    if order is None:
        raise ApiError(404, "UNKNOWN_ORDER", "No such order")
    return order


def add_routes(routes: ApiRoutes) -> None:
    @routes.put(
        FACE_PATH,
        summary="Enroll (or replace) a visitor's face photo: the body is the JPEG itself",
        tag="faces",
        auth="staff",
        body=PHOTO,
        response=ENROLLED,
        responses={
            200: "enrolled",
            400: "not a JPEG",
            404: "unknown order or visitor",
            409: "order not paid / not real-name / ticket no longer valid",
            413: "photo too large",
            422: "photo too small",
        },
    )
    async def enroll(request: web.Request) -> web.Response:
        hub = _staff(request)
        index = visitor_index(request)
        order = await _order(hub, request)
        photo = await read_photo(request, hub.faces.max_bytes)
        try:
            result = await hub.faces.enroll(order, index, photo, source="staff")
        except FaceError as exc:
            face_error(exc)
        return web.json_response({"order_id": order.id, **result})

    @routes.route(
        "DELETE",
        FACE_PATH,
        summary="Withdraw a visitor's face photo (deleted at the hub, the bridge, the devices)",
        tag="faces",
        auth="staff",
        responses={200: "deleted (or there was none)", 404: "unknown order or visitor"},
        response=REMOVED,
    )
    async def withdraw(request: web.Request) -> web.Response:
        hub = _staff(request)
        index = visitor_index(request)
        order = await _order(hub, request)
        try:
            removed = await hub.faces.remove(order, index)
        except FaceError as exc:
            face_error(exc)
        return web.json_response({"order_id": order.id, "visitor": index, "removed": removed})

    @routes.get(
        "/api/bridge/venues/{venue_id}/faces/{ticket_id}",
        summary="The face photo of a ticket whose change carried a face version (JPEG body, "
        "version in X-Face-Version)",
        tag="bridge",
        auth="bridge",
        responses={200: "the JPEG", 401: "wrong token", 404: "no face (any more)"},
        media="image/jpeg",
    )
    async def photo(request: web.Request) -> web.Response:
        from hub.api.bridge import bridge_auth

        venue_id = request.match_info["venue_id"]
        bridge_auth(request, venue_id)
        found = await _hub(request).faces.photo(venue_id, request.match_info["ticket_id"])
        if found is None:
            raise ApiError(404, "NO_FACE", "This ticket has no face photo (any more)")
        return web.Response(
            body=found.jpeg,
            content_type="image/jpeg",
            headers={"X-Face-Version": found.version, "Cache-Control": "no-store"},
        )

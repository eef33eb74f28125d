"""The hub behind a venue-staff route (admin API): the application state, once the admin
token is checked. Core routes only: plugins check tokens through their `ChannelContext`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from hub.sdk.web import ApiError
from hub.sdk.web.auth import require_bearer

if TYPE_CHECKING:
    from hub.api.app import Hub


def staff_hub(request: web.Request) -> Hub:
    """The hub behind a venue-staff (admin) route, once the admin token is checked."""
    from hub.api.app import HUB

    hub = request.app[HUB]
    require_bearer(request, hub.settings.admin_token)
    return hub


async def require_venue(hub: Hub, venue_id: str) -> None:
    """404 ``UNKNOWN_VENUE`` (in the API's words) unless the catalog knows ``venue_id``:
    the check every route under ``/venues/{venue_id}`` makes before touching its rows."""
    if await hub.catalog.venue(venue_id) is None:
        raise ApiError(404, "UNKNOWN_VENUE", f"No venue {venue_id}")

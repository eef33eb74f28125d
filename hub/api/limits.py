"""Admin API for the venue's limits: the whole-day cap (总量控制, `hub.inventory.daycap`)
per venue or per product, and the day's caps beside the slots (the inventory view)."""

from __future__ import annotations

from datetime import date

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from hub.api.admin import DateRange, DayCapOut
from hub.api.bridge import _hub as bridge_hub
from hub.api.bridge import bridge_auth
from hub.api.staff import require_venue, staff_hub
from hub.inventory import daycap
from hub.redemptions import ceiling
from hub.sdk.web.errors import ApiError
from hub.sdk.web.parsing import query_day, read_model
from hub.sdk.web.routing import ApiRoutes
from hub.storage.db import reader


class DayCapIn(DateRange):
    model_config = ConfigDict(extra="forbid")
    product_id: str | None = Field(
        default=None, min_length=1, max_length=64, description="absent: the venue's cap"
    )
    capacity: int = Field(ge=0, le=10_000_000, description="most visitors that day")


class DayCapSet(BaseModel):
    days: int = Field(description="days written")


class DayCapsOut(BaseModel):
    venue_id: str
    date: date
    caps: list[DayCapOut]


def add_routes(routes: ApiRoutes) -> None:
    add_ceiling_routes(routes)

    @routes.put(
        "/api/admin/venues/{venue_id}/day-cap",
        summary="Set the whole-day cap of a venue (or one of its products) over a date range",
        tag="admin",
        body=DayCapIn,
        auth="admin",
        responses={
            200: "set",
            404: "unknown venue or product",
            422: "CAPACITY_BELOW_SOLD (more visitors already booked), "
            "CAPACITY_BELOW_ALLOTMENTS (emergency allotments set more aside)",
        },
        response=DayCapSet,
    )
    async def put_day_cap(request: web.Request) -> web.Response:
        hub = staff_hub(request)
        venue_id = request.match_info["venue_id"]
        body = await read_model(request, DayCapIn)
        await require_venue(hub, venue_id)
        if body.product_id is not None:
            product = await hub.catalog.product(body.product_id)
            if product is None or product.venue_id != venue_id:
                raise ApiError(404, "UNKNOWN_PRODUCT", f"No product {body.product_id} here")
        async with hub.engine.begin() as conn:
            n = await daycap.set_day_cap(
                conn, venue_id, body.days(), body.capacity, product_id=body.product_id
            )
        return web.json_response({"days": n})

    @routes.get(
        "/api/admin/venues/{venue_id}/day-cap",
        summary="The whole-day caps of a venue and its products on one day",
        tag="admin",
        auth="admin",
        query={"date": "YYYY-MM-DD"},
        response=DayCapsOut,
    )
    async def get_day_cap(request: web.Request) -> web.Response:
        hub = staff_hub(request)
        venue_id = request.match_info["venue_id"]
        day = query_day(request)
        pools = [daycap.venue_cap_pool(venue_id)] + [
            daycap.product_cap_pool(p.id) for p in await hub.catalog.products(venue_id)
        ]
        async with reader(hub.engine).connect() as conn:
            caps = await daycap.caps_of_day(conn, pools, day)
        return web.json_response(
            {
                "venue_id": venue_id,
                "date": day.isoformat(),
                "caps": sorted(caps.values(), key=lambda c: c["pool"]),
            }
        )


class InParkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    count: int = Field(ge=0, le=10_000_000, description="visitors inside now, as staff counted")


class InParkOut(BaseModel):
    venue_id: str
    date: date
    in_park: int
    max_in_park: int | None = None


class CeilingAsk(BaseModel):
    model_config = ConfigDict(extra="forbid")
    bridge: str = Field(min_length=1, max_length=64)


class CeilingOut(BaseModel):
    max_in_park: int | None
    in_park: int
    share: int | None = Field(description="entries this bridge may admit net of its exits")
    date: date


def add_ceiling_routes(routes: ApiRoutes) -> None:
    @routes.put(
        "/api/admin/venues/{venue_id}/in-park",
        summary="Correct the in-park count (the bridges take it at their next sync)",
        tag="admin",
        body=InParkIn,
        auth="admin",
        responses={200: "set", 404: "unknown venue"},
        response=InParkOut,
    )
    async def put_in_park(request: web.Request) -> web.Response:
        hub = staff_hub(request)
        venue_id = request.match_info["venue_id"]
        body = await read_model(request, InParkIn)
        await require_venue(hub, venue_id)
        now = hub.clock.now()
        day = now.astimezone(await hub.catalog.tz(venue_id)).date()
        async with hub.engine.begin() as conn:
            await ceiling.set_count(conn, venue_id, day, body.count, now)
            got = await ceiling.shares(conn, venue_id, day, "", now)
        return web.json_response(
            {
                "venue_id": venue_id,
                "date": day.isoformat(),
                "in_park": got["in_park"],
                "max_in_park": got["max_in_park"],
            }
        )

    @routes.post(
        "/api/bridge/venues/{venue_id}/ceiling",
        summary="The in-park ceiling for one bridge: the count and its granted share of the room",
        tag="bridge",
        auth="bridge",
        body=CeilingAsk,
        responses={200: "the ceiling", 401: "wrong token", 404: "unknown venue"},
        response=CeilingOut,
    )
    async def post_ceiling(request: web.Request) -> web.Response:
        venue_id = request.match_info["venue_id"]
        bridge_auth(request, venue_id)
        hub = bridge_hub(request)
        body = await read_model(request, CeilingAsk)
        await require_venue(hub, venue_id)
        now = hub.clock.now()
        day = now.astimezone(await hub.catalog.tz(venue_id)).date()
        async with hub.engine.begin() as conn:
            got = await ceiling.shares(conn, venue_id, day, body.bridge, now)
        return web.json_response({**got, "date": day.isoformat()})

"""Admin API for venue staff: venues, products (with their rule documents), capacity per
slot, channel allotments, and the inventory audit."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.api.staff import staff_hub
from hub.catalog.service import new_venue_keys
from hub.domain import Product, Venue
from hub.inventory import admin as inventory
from hub.inventory import daycap
from hub.sdk.web.errors import ApiError
from hub.sdk.web.parsing import query_day, read_json, read_model
from hub.sdk.web.routing import ApiRoutes, Body
from hub.storage.db import reader
from hub.storage.tables import VenueRow

MAX_RANGE_DAYS = 400


class VenueIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    timezone: str = "Asia/Shanghai"
    max_in_park: int | None = Field(
        default=None, ge=1, le=10_000_000, description="most visitors inside at once (the wall)"
    )


class SlotIn(BaseModel):
    code: str = Field(default="", max_length=32, pattern=r"^$|^\d{2}:\d{2}-\d{2}:\d{2}$")
    capacity: int = Field(ge=0, le=10_000_000)


class DateRange(BaseModel):
    date_from: date
    date_to: date

    @model_validator(mode="after")
    def _order(self) -> DateRange:
        if self.date_to < self.date_from:
            raise ValueError("date_to is before date_from")
        if (self.date_to - self.date_from).days > MAX_RANGE_DAYS:
            raise ValueError(f"at most {MAX_RANGE_DAYS} days at once")
        return self

    def days(self) -> list[date]:
        n = (self.date_to - self.date_from).days
        return [self.date_from + timedelta(days=i) for i in range(n + 1)]


class CapacityIn(DateRange):
    model_config = ConfigDict(extra="forbid")
    pool: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
    slots: list[SlotIn] = Field(min_length=1, max_length=96)


class AllotmentIn(DateRange):
    model_config = ConfigDict(extra="forbid")
    pool: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
    slot: str | None = Field(default=None, max_length=32)
    channel: str = Field(min_length=1, max_length=32, pattern=r"^[a-z0-9_]+$")
    quantity: int = Field(ge=0, le=10_000_000)
    fallback: bool = True


# -- answers (documented in /api/openapi.json; schemathesis holds the answers to them) --------


class VenueOut(BaseModel):
    id: str
    name: str
    timezone: str
    key_id: int
    public_key: str = Field(description="Ed25519, base64: verifies the venue's QR credentials")
    max_in_park: int | None = None


class ProductsOut(BaseModel):
    products: list[Product]


class CellsOut(BaseModel):
    cells: int = Field(description="slot-days written")


class CellOut(BaseModel):
    slot: str
    bucket: str = Field(description="'' = the common bucket, else the channel of an allotment")
    start: str
    end: str
    capacity: int
    held: int
    sold: int
    available: int
    fallback: bool


class DayCapOut(BaseModel):
    pool: str = Field(description="~venue:<id> or ~product:<id> (`hub.inventory.daycap`)")
    capacity: int
    held: int
    sold: int
    reserved: int = Field(
        description="set aside for bridges' emergency allotments, not sold yet "
        "(`hub.emergency.capreserve`): not available online"
    )
    available: int = Field(description="what the online channels can still sell")


class InventoryOut(BaseModel):
    pool: str
    date: date
    cells: list[CellOut]
    day_caps: list[DayCapOut] = Field(
        default=[], description="the whole-day caps bounding this pool's slots that day"
    )


class AuditSlotOut(BaseModel):
    slot: str
    capacity: int
    held: int
    sold: int
    allocated: int = Field(description="units of live orders, counted from the orders")
    oversold: int = Field(description="always 0")


class AuditOut(BaseModel):
    pool: str
    date: date
    slots: list[AuditSlotOut]


RULES = Body(
    {"application/json": {"type": "object", "description": "the product's rule document"}},
    "the whole rule document (it replaces the old one)",
)
RULES_OUT = {"type": "object", "description": "the rule document"}


def _upsert(conn: Any, table: Any, values: dict[str, Any], key: str) -> Any:
    ins = (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(table).values(values)
    return ins.on_conflict_do_update(
        index_elements=[key], set_={k: v for k, v in values.items() if k != key}
    )


async def _pool_day_report(
    request: web.Request,
    key: str,
    report: Callable[[AsyncConnection, str, date], Awaitable[list[dict[str, Any]]]],
) -> web.Response:
    """A read-only report of one pool on one day (``?pool=…&date=…``)."""
    hub = staff_hub(request)
    day = query_day(request)
    pool = request.query.get("pool", "")
    async with reader(hub.engine).connect() as conn:
        rows = await report(conn, pool, day)
    return web.json_response({"pool": pool, "date": day.isoformat(), key: rows})


def add_routes(routes: ApiRoutes) -> None:
    @routes.put(
        "/api/admin/venues/{venue_id}",
        summary="Create or update a venue",
        tag="admin",
        body=VenueIn,
        auth="admin",
        responses={200: "updated", 201: "created"},
        response=VenueOut,
    )
    async def put_venue(request: web.Request) -> web.Response:
        hub = staff_hub(request)
        body = await read_model(request, VenueIn)
        venue_id = request.match_info["venue_id"]
        Venue(
            id=venue_id, name=body.name, timezone=body.timezone
        )  # id and timezone checks: a 400 naming the field
        async with hub.engine.begin() as conn:
            t = VenueRow.__table__
            exists = (await conn.execute(select(t.c.id).where(t.c.id == venue_id))).first()
            if exists:
                await conn.execute(
                    update(t)
                    .where(t.c.id == venue_id)
                    .values(name=body.name, timezone=body.timezone, max_in_park=body.max_in_park)
                )
            else:
                await conn.execute(
                    t.insert().values(
                        id=venue_id,
                        name=body.name,
                        timezone=body.timezone,
                        max_in_park=body.max_in_park,
                        **new_venue_keys(),
                    )
                )
        hub.catalog.forget_venue(venue_id)
        found = await hub.catalog.venue(venue_id)
        assert found is not None
        return web.json_response(
            {
                "id": venue_id,
                "name": body.name,
                "timezone": body.timezone,
                "key_id": found[1].key_id,
                "public_key": found[1].public_key,
                "max_in_park": body.max_in_park,
            },
            status=200 if exists else 201,
        )

    @routes.put(
        "/api/admin/products/{product_id}",
        summary="Create or update a product (the id is the path's)",
        tag="admin",
        auth="admin",
        body=Product,
        responses={200: "saved", 422: "invalid field or rule document"},
        response=Product,
    )
    async def put_product(request: web.Request) -> web.Response:
        hub = staff_hub(request)
        product = await read_model(request, Product, id=request.match_info["product_id"])
        await hub.catalog.save_product(product)
        return web.json_response(product.model_dump(mode="json"))

    @routes.get(
        "/api/admin/products/{product_id}/rules",
        summary="A product's rule document",
        tag="admin",
        auth="admin",
        responses={200: "rules", 404: "unknown product"},
        response=RULES_OUT,
    )
    async def get_rules(request: web.Request) -> web.Response:
        hub = staff_hub(request)
        product = await hub.catalog.product(request.match_info["product_id"])
        if product is None:
            raise ApiError(404, "UNKNOWN_PRODUCT", "No such product")
        return web.json_response(product.rules)

    @routes.put(
        "/api/admin/products/{product_id}/rules",
        summary="Replace a product's rules",
        tag="admin",
        auth="admin",
        body=RULES,
        responses={200: "saved", 404: "unknown product", 422: "invalid rule document"},
        response=RULES_OUT,
    )
    async def put_rules(request: web.Request) -> web.Response:
        hub = staff_hub(request)
        document = await read_json(request)
        if not isinstance(document, dict):
            raise ApiError(400, "INVALID_REQUEST", "A rule document is a JSON object")
        product = await hub.catalog.product(request.match_info["product_id"])
        if product is None:
            raise ApiError(404, "UNKNOWN_PRODUCT", "No such product")
        updated = product.model_copy(update={"rules": document})
        await hub.catalog.save_product(updated)
        return web.json_response(updated.rules)

    @routes.get(
        "/api/admin/products",
        summary="List products",
        tag="admin",
        auth="admin",
        query={"venue_id": "only this venue's"},
        response=ProductsOut,
    )
    async def list_products(request: web.Request) -> web.Response:
        hub = staff_hub(request)
        products = await hub.catalog.products(request.query.get("venue_id"))
        return web.json_response({"products": [p.model_dump(mode="json") for p in products]})

    @routes.put(
        "/api/admin/inventory",
        summary="Set the capacity of slots over a date range",
        tag="admin",
        body=CapacityIn,
        auth="admin",
        responses={200: "set", 422: "below what allotments take or is already sold"},
        response=CellsOut,
    )
    async def put_inventory(request: web.Request) -> web.Response:
        hub = staff_hub(request)
        body = await read_model(request, CapacityIn)
        slots = [inventory.SlotCapacity(s.code, s.capacity) for s in body.slots]
        notify = inventory.capacity_notifier(hub.plugins, hub.outbox.enqueue)
        async with hub.engine.begin() as conn:
            n = await inventory.set_capacity(conn, body.pool, body.days(), slots, on_changed=notify)
        hub.outbox.notify()
        return web.json_response({"cells": n})

    @routes.put(
        "/api/admin/allotments",
        summary="Reserve a share of slots for one channel",
        tag="admin",
        body=AllotmentIn,
        auth="admin",
        responses={
            200: "set",
            422: "UNKNOWN_POOL (no capacity was ever set for it), SLOT_NOT_USABLE (none set "
            "in that range), NOT_ENOUGH_FREE_CAPACITY",
        },
        response=CellsOut,
    )
    async def put_allotment(request: web.Request) -> web.Response:
        hub = staff_hub(request)
        body = await read_model(request, AllotmentIn)
        async with hub.engine.begin() as conn:
            n = await inventory.set_allotment(
                conn,
                pool=body.pool,
                days=body.days(),
                slot=body.slot,
                channel=body.channel,
                quantity=body.quantity,
                fallback=body.fallback,
                on_changed=inventory.capacity_notifier(hub.plugins, hub.outbox.enqueue),
            )
        hub.outbox.notify()
        hub.catalog.forget_allotments(body.pool)
        return web.json_response({"cells": n})

    @routes.get(
        "/api/admin/inventory",
        summary="Capacity, held and sold per slot and bucket",
        tag="admin",
        auth="admin",
        query={"pool": "pool id", "date": "YYYY-MM-DD"},
        response=InventoryOut,
    )
    async def get_inventory(request: web.Request) -> web.Response:
        hub = staff_hub(request)
        day = query_day(request)
        pool = request.query.get("pool", "")
        async with reader(hub.engine).connect() as conn:
            cells = await inventory.list_cells(conn, pool, day)
            caps = await daycap.caps_of_day(
                conn,
                [daycap.venue_cap_pool(v) for v in await inventory.venues_of_pool(conn, pool)]
                + [
                    daycap.product_cap_pool(p.id)
                    for p in await hub.catalog.products()
                    if p.pool == pool
                ],
                day,
            )
        return web.json_response(
            {
                "pool": pool,
                "date": day.isoformat(),
                "cells": cells,
                "day_caps": sorted(caps.values(), key=lambda c: c["pool"]),
            }
        )

    @routes.get(
        "/api/admin/audit",
        summary="Units of live orders per slot vs capacity (oversold)",
        tag="admin",
        auth="admin",
        query={"pool": "pool id", "date": "YYYY-MM-DD"},
        response=AuditOut,
    )
    async def get_audit(request: web.Request) -> web.Response:
        return await _pool_day_report(request, "slots", inventory.audit)

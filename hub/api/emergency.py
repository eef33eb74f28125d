"""Routes of the emergency box office at the bridges (`hub.emergency`): staff set each
bridge's allotments and certify or revoke its key; a bridge reads what it may sell and
which bridge keys the gates trust, and brings back what it sold while offline."""

from __future__ import annotations

import logging
from datetime import date, timedelta
from typing import TYPE_CHECKING

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from hub.api.bridge import bridge_auth
from hub.api.staff import staff_hub
from hub.emergency import allotments, keys
from hub.emergency.giveback import give_back_now
from hub.emergency.intake import EmergencyUploadIn, record_orders
from hub.inventory import admin as inventory
from hub.sdk.web.errors import ApiError
from hub.sdk.web.parsing import read_model
from hub.sdk.web.routing import ApiRoutes
from hub.storage.db import reader
from hub.storage.tables import ProductRow

if TYPE_CHECKING:
    from hub.api.app import Hub

log = logging.getLogger(__name__)
_BRIDGE_ID = r"^[A-Za-z0-9_.\-]{1,24}$"


class EmergencyAllotmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    venue_id: str = Field(min_length=1, max_length=64)
    bridge_id: str = Field(pattern=_BRIDGE_ID)
    pool: str = Field(min_length=1, max_length=64)
    date: date
    slot: str = Field(default="", max_length=32, pattern=r"^$|^\d{2}:\d{2}-\d{2}:\d{2}$")
    quantity: int = Field(ge=0, le=100_000)


class BridgeKeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    venue_id: str = Field(min_length=1, max_length=64)
    bridge_id: str = Field(pattern=_BRIDGE_ID)
    public_key: str = Field(min_length=40, max_length=64, description="base64 raw Ed25519")
    valid_days: int = Field(default=7, ge=1, le=keys.MAX_VALID_DAYS)
    staff: str = Field(min_length=1, max_length=64)


class GiveBackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    staff: str = Field(min_length=1, max_length=64, description="who asked (logged)")


class RevokeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    venue_id: str = Field(min_length=1, max_length=64)
    key_id: int = Field(ge=0, le=255)
    staff: str = Field(min_length=1, max_length=64)
    reason: str = Field(min_length=1, max_length=200)


def _hub(request: web.Request) -> Hub:
    from hub.api.app import HUB

    return request.app[HUB]


async def _pools(hub: Hub, venue_id: str) -> list[str]:
    async with reader(hub.engine).connect() as conn:
        rows = (
            await conn.execute(select(ProductRow.doc).where(ProductRow.venue_id == venue_id))
        ).scalars()
        return sorted({d["pool"] for d in rows if isinstance(d, dict) and d.get("pool")})


def add_routes(routes: ApiRoutes) -> None:
    @routes.put(
        "/api/admin/emergency/allotments",
        summary="Set aside units of a slot for one bridge's emergency box office",
        tag="admin",
        auth="admin",
        body=EmergencyAllotmentIn,
        responses={
            200: "set",
            422: "SLOT_ENDED, UNKNOWN_POOL, SLOT_NOT_USABLE, NOT_ENOUGH_FREE_CAPACITY, "
            "CAPACITY_BELOW_SOLD, NOT_ENOUGH_DAY_CAP (the whole-day cap has not that many "
            "visitors left)",
        },
    )
    async def put_allotment(request: web.Request) -> web.Response:
        hub = staff_hub(request)
        body = await read_model(request, EmergencyAllotmentIn)
        if body.pool not in await _pools(hub, body.venue_id):
            raise ApiError(422, "UNKNOWN_POOL", f"pool: no product of {body.venue_id} uses it")
        tz = await hub.catalog.tz(body.venue_id)
        async with hub.engine.begin() as conn:
            n = await allotments.set_emergency_allotment(
                conn,
                pool=body.pool,
                day=body.date,
                slot=body.slot,
                bridge_id=body.bridge_id,
                quantity=body.quantity,
                tz=tz,
                now=hub.clock.now(),
                on_changed=inventory.capacity_notifier(hub.plugins, hub.outbox.enqueue),
            )
        hub.outbox.notify()
        hub.catalog.forget_allotments(body.pool)
        return web.json_response({"cells": n})

    @routes.post(
        "/api/admin/emergency/give-back",
        summary="Give the unsold units of ended slots' emergency allotments back",
        tag="admin",
        auth="admin",
        body=GiveBackIn,
    )
    async def give_back(request: web.Request) -> web.Response:
        hub = staff_hub(request)
        body = await read_model(request, GiveBackIn)
        units = await give_back_now(hub.engine, hub.catalog, hub.clock)
        log.info("%s gave %d unsold emergency units back", body.staff, units)
        return web.json_response({"units": units})

    @routes.post(
        "/api/admin/emergency/keys",
        summary="Certify a bridge's public key with the venue key (for emergency sales)",
        tag="admin",
        auth="admin",
        body=BridgeKeyIn,
        responses={200: "the certificate", 422: "UNKNOWN_VENUE, INVALID_PUBLIC_KEY, NO_VENUE_KEY"},
    )
    async def certify(request: web.Request) -> web.Response:
        hub = staff_hub(request)
        body = await read_model(request, BridgeKeyIn)
        cert = await keys.certify_key(
            hub.engine,
            venue_id=body.venue_id,
            bridge_id=body.bridge_id,
            public_key=body.public_key,
            valid_days=body.valid_days,
            staff=body.staff,
            now=hub.clock.now(),
        )
        return web.json_response(cert)

    @routes.post(
        "/api/admin/emergency/keys/revoke",
        summary="Revoke a bridge key: every gate refuses its credentials after its next sync",
        tag="admin",
        auth="admin",
        body=RevokeIn,
        responses={200: "revoked", 422: "UNKNOWN_KEY"},
    )
    async def revoke(request: web.Request) -> web.Response:
        hub = staff_hub(request)
        body = await read_model(request, RevokeIn)
        return web.json_response(
            await keys.revoke_key(
                hub.engine,
                venue_id=body.venue_id,
                key_id=body.key_id,
                staff=body.staff,
                reason=body.reason,
                now=hub.clock.now(),
            )
        )

    @routes.get(
        "/api/admin/emergency/keys",
        summary="The bridge keys of a venue, certified and revoked",
        tag="admin",
        auth="admin",
        query={"venue": "venue id"},
    )
    async def list_keys(request: web.Request) -> web.Response:
        hub = staff_hub(request)
        return web.json_response(
            {"keys": await keys.keys_of(hub.engine, request.query.get("venue", ""))}
        )

    @routes.get(
        "/api/bridge/venues/{venue_id}/emergency",
        summary="What a bridge's emergency box office needs: its allotments, and the "
        "bridge keys every gate trusts (and those revoked)",
        tag="bridge",
        auth="bridge",
        query={"bridge": "the bridge id"},
    )
    async def state(request: web.Request) -> web.Response:
        venue_id = request.match_info["venue_id"]
        bridge_auth(request, venue_id)
        hub = _hub(request)
        bridge_id = request.query.get("bridge", "")
        now = hub.clock.now()
        tz = await hub.catalog.tz(venue_id)
        pools = await _pools(hub, venue_id)
        all_keys = await keys.keys_of(hub.engine, venue_id)
        async with reader(hub.engine).connect() as conn:
            allotted = await allotments.allotments_of(
                conn, pools, bridge_id, now.astimezone(tz).date() - timedelta(days=1)
            )
        return web.json_response(
            {
                "bridge": bridge_id,
                "keys": [
                    {k: v for k, v in key.items() if k in _CERT_FIELDS}
                    for key in all_keys
                    if key["revoked_at"] is None
                ],
                "revoked": [key["key_id"] for key in all_keys if key["revoked_at"] is not None],
                "allotments": allotted,
                "server_time": now.isoformat(),
            }
        )

    @routes.post(
        "/api/bridge/venues/{venue_id}/emergency/orders",
        summary="Emergency sales a bridge made offline; each bridge order id is recorded "
        "once whatever the retries",
        tag="bridge",
        auth="bridge",
        body=EmergencyUploadIn,
        responses={200: "per order: created, duplicate or refused", 401: "wrong token"},
    )
    async def upload(request: web.Request) -> web.Response:
        venue_id = request.match_info["venue_id"]
        bridge_auth(request, venue_id)
        hub = _hub(request)
        body = await read_model(request, EmergencyUploadIn)
        try:
            # counts against the whole-day cap inside (`hub.emergency.intake`)
            result = await record_orders(
                hub.catalog, hub.engine, hub.orders.ids, venue_id, body, hub.clock.now()
            )
        except LookupError:
            raise ApiError(404, "UNKNOWN_VENUE", "No such venue") from None
        hub.outbox.notify()
        return web.json_response(result)


_CERT_FIELDS = frozenset(
    [
        "venue_id",
        "bridge_id",
        "key_id",
        "public_key",
        "valid_from",
        "valid_until",
        "issuer_key_id",
        "signature",
    ]
)

"""Admin API of combo parts: the venue's gate → attraction map, and the refund of a combo
ticket's unused parts (`hub.domain.combo`, `hub.orders.parts`)."""

from __future__ import annotations

import re

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, field_validator

from hub.api.staff import require_venue, staff_hub
from hub.catalog.gates import gate_map, set_gate_map
from hub.sdk.web import outcome_response
from hub.sdk.web.errors import ApiError
from hub.sdk.web.parsing import read_model
from hub.sdk.web.routing import ApiRoutes
from hub.storage.db import reader

_ID = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"
_GATE = r"^[^\s].{0,63}$"


class GateMap(BaseModel):
    """Which attraction each gate belongs to; gates not listed belong to the venue itself
    (a combo takes its first part there)."""

    model_config = ConfigDict(extra="forbid")

    gates: dict[str, str] = Field(
        default_factory=dict, max_length=1000, description="gate → attraction id"
    )

    @field_validator("gates")
    @classmethod
    def _ids(cls, v: dict[str, str]) -> dict[str, str]:
        for gate, attraction in v.items():
            if not re.match(_GATE, gate) or not re.match(_ID, attraction):
                raise ValueError(f"gate {gate!r} → {attraction!r}: not a gate and attraction id")
        return v


class PartsRefundIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    parts: list[str] | None = Field(
        default=None, max_length=50, description="attractions to refund; absent: every unused"
    )


async def _venue(request: web.Request) -> str:
    venue_id = request.match_info["venue_id"]
    await require_venue(staff_hub(request), venue_id)
    return venue_id


def add_routes(routes: ApiRoutes) -> None:
    @routes.put(
        "/api/admin/venues/{venue_id}/gates",
        summary="Set which attraction each gate belongs to (combo tickets are checked per part)",
        tag="admin",
        body=GateMap,
        auth="admin",
        responses={200: "set", 404: "unknown venue", 422: "not a gate map"},
        response=GateMap,
    )
    async def put_gates(request: web.Request) -> web.Response:
        hub = staff_hub(request)
        venue_id = await _venue(request)
        body = await read_model(request, GateMap)
        async with hub.engine.begin() as conn:
            await set_gate_map(conn, venue_id, body.gates)
        return web.json_response({"gates": body.gates})

    @routes.get(
        "/api/admin/venues/{venue_id}/gates",
        summary="The venue's gate → attraction map",
        tag="admin",
        auth="admin",
        responses={200: "the map", 404: "unknown venue"},
        response=GateMap,
    )
    async def get_gates(request: web.Request) -> web.Response:
        hub = staff_hub(request)
        venue_id = await _venue(request)
        async with reader(hub.engine).connect() as conn:
            gates = await gate_map(conn, venue_id)
        return web.json_response({"gates": gates})

    @routes.post(
        "/api/admin/orders/{order_id}/tickets/{ticket_id}/refund-parts",
        summary="Refund unused parts of a combo ticket (where its product allows it); the "
        "channel is told (payment refund, partner notice)",
        tag="admin",
        body=PartsRefundIn,
        auth="admin",
        responses={
            200: "refunded",
            400: "not a combo ticket, or no such part",
            404: "unknown order or ticket",
            409: "part used or already refunded, parts not refundable, order not refundable",
        },
    )
    async def refund_parts(request: web.Request) -> web.Response:
        hub = staff_hub(request)
        body = await read_model(request, PartsRefundIn)
        key = request.headers.get("Idempotency-Key", "").strip() or None
        if key is not None and len(key) > 128:
            raise ApiError(400, "INVALID_REQUEST", "Idempotency-Key longer than 128")
        outcome = await hub.orders.refund_parts(
            request.match_info["order_id"],
            request.match_info["ticket_id"],
            body.parts,
            key=f"admin-parts:{key}" if key else None,
        )
        return outcome_response(outcome)

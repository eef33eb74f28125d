"""Routes the agencies call, every one HMAC-signed (see `signing`).

The body is read ONCE as raw bytes by the guard (the signature covers those bytes), then
parsed here; so a malformed body is refused only after we know who sent it, and the error
is always the agency vocabulary's ``{"code", "message"}``.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any, TypeVar

import orjson
from aiohttp import web
from pydantic import BaseModel, ValidationError

from hub import jsonutil
from hub.api.errors import ApiError
from plugins.channel_agency.auth import Guard
from plugins.channel_agency.groups import (
    AmendIn,
    GroupIn,
    Groups,
    RefundIn,
    roster_error,
    seal_roster,
)
from plugins.channel_agency.profiles import Agencies, account_id
from plugins.channel_agency.roster import parse_roster

M = TypeVar("M", bound=BaseModel)
TAG, AUTH = "agency", "agency-hmac"


def parse(raw: bytes, model: type[M]) -> M:
    try:
        data = jsonutil.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, "INVALID_REQUEST", f"Body is not UTF-8 JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ApiError(400, "INVALID_REQUEST", "Body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        e = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(p) for p in e["loc"]) or "body"
        raise ApiError(400, "INVALID_REQUEST", f"{where}: {e['msg']}") from exc


def json(body: dict[str, Any], status: int = 200) -> web.Response:
    return web.json_response(body, status=status, dumps=jsonutil.dumps)


def mount(ctx: Any, guard: Guard, agencies: Agencies, groups: Groups) -> None:
    r = ctx.routes

    @r.get("/api/agency/account", summary="The agency's balance and credit", tag=TAG, auth=AUTH)
    async def account(request: web.Request) -> web.Response:
        caller = await guard.check(request)
        acct = await ctx.accounts.get(account_id(caller.agency_id))
        return json({"account": acct.as_dict() if acct else None})

    @r.post(
        "/api/agency/rosters",
        summary="Upload a roster (CSV or XLSX as the raw body); answers a roster_id",
        tag=TAG,
        auth=AUTH,
        responses={201: "accepted", 422: "per-row report"},
    )
    async def upload(request: web.Request) -> web.Response:
        caller = await guard.check(request)
        # Parsing a 2 MiB workbook can take a few hundred ms of CPU: keep it off the
        # event loop so one upload does not stall every other request.
        parsed = await asyncio.to_thread(
            parse_roster,
            caller.body,
            filename=request.query.get("filename") or None,
            content_type=request.content_type,
        )
        if not parsed.ok:
            raise roster_error(parsed.errors, parsed.warnings)
        roster_id = uuid.uuid4().hex[:16]
        key = f"{caller.agency_id}:{roster_id}"
        await ctx.store("agency").put(
            "roster", key, seal_roster(ctx.orders.ids, key, parsed.visitors), ttl=timedelta(days=1)
        )
        return json(
            {
                "roster_id": roster_id,
                "visitors": len(parsed.visitors),
                "warnings": [w.as_dict() for w in parsed.warnings],
            },
            201,
        )

    @r.post(
        "/api/agency/groups",
        summary="Book a group: stock held and account charged in one step",
        tag=TAG,
        auth=AUTH,
        body=GroupIn,
        responses={201: "booked (or pending approval)", 409: "sold out", 422: "refused"},
    )
    async def book(request: web.Request) -> web.Response:
        caller = await guard.check(request)
        body = parse(caller.body, GroupIn)
        result = await groups.book(caller.agency, body)
        return json(result, 200 if result["replay"] else 201)

    @r.get("/api/agency/groups/{order_no}", summary="A group and its roster", tag=TAG, auth=AUTH)
    async def get(request: web.Request) -> web.Response:
        caller = await guard.check(request)
        return json(await groups.view(caller.agency_id, request.match_info["order_no"]))

    @r.post(
        "/api/agency/groups/{order_no}/amendments",
        summary="Replace, add or remove visitors until the cut-off",
        tag=TAG,
        auth=AUTH,
        body=AmendIn,
    )
    async def amend(request: web.Request) -> web.Response:
        caller = await guard.check(request)
        body = parse(caller.body, AmendIn)
        return json(await groups.amend(caller.agency_id, request.match_info["order_no"], body))

    @r.post(
        "/api/agency/groups/{order_no}/refund",
        summary="Refund some visitors (ticket_ids) or the whole group",
        tag=TAG,
        auth=AUTH,
        body=RefundIn,
    )
    async def refund(request: web.Request) -> web.Response:
        caller = await guard.check(request)
        body = parse(caller.body, RefundIn)
        doc, _ = await groups.find(caller.agency_id, request.match_info["order_no"])
        return json(await groups.refund(doc, body))

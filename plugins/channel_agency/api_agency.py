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
from pydantic import BaseModel, Field, ValidationError

from hub.sdk.web import ApiError, json_dumps, json_loads, raw_body
from plugins.channel_agency import signing
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

#: The agency API's security scheme as OpenAPI can say it: an API key in a header (the
#: signature), with the other three headers and the signing rule in words. The full
#: specification, with a worked example, is `plugins.channel_agency.signing`.
SCHEME: dict[str, Any] = {
    "type": "apiKey",
    "in": "header",
    "name": signing.SIGNATURE_HEADER,
    "description": f"""HMAC-SHA256 request signature (not a bearer token: the secret never \
travels). Every request carries four headers:

- `{signing.KEY_HEADER}`: the access key id issued to the agency
- `{signing.TIMESTAMP_HEADER}`: Unix seconds, within {signing.DEFAULT_WINDOW_SECONDS} s of \
the hub's clock
- `{signing.NONCE_HEADER}`: 16-64 characters of `A-Z a-z 0-9 - _ . ~`, never reused
- `{signing.SIGNATURE_HEADER}`: lowercase hex HMAC-SHA256, keyed with the secret's UTF-8 \
bytes, of the canonical request: six lines joined by `\\n` — METHOD, the \
percent-encoded path, the canonical query (RFC 3986-encoded `name=value` pairs sorted, \
joined by `&`), the timestamp, the nonce, and the lowercase hex SHA-256 of the raw body.

Refusals (401): `MISSING_SIGNATURE`, `BAD_NONCE`, `STALE_TIMESTAMP`, `UNKNOWN_KEY`, \
`BAD_SIGNATURE` (with `details.canonical_request`, the hub's own canonical request), \
`REPLAYED`; 403 `AGENCY_SUSPENDED`; 429 `RATE_LIMITED`.""",
}
REFUSALS: dict[int, str] = {
    401: "signature refused (MISSING_SIGNATURE, BAD_SIGNATURE, STALE_TIMESTAMP, ...)",
    403: "agency suspended",
    429: "rate limited",
}


class AccountOut(BaseModel):
    id: str
    owner: str
    kind: str = Field(description="credit | prepaid")
    balance: int = Field(description="fen; negative on credit")
    credit_limit: int
    available: int
    status: str


class AccountView(BaseModel):
    account: AccountOut | None


class RosterOut(BaseModel):
    roster_id: str = Field(description="book with it for a day: GroupIn.roster_id")
    visitors: int
    warnings: list[dict[str, Any]]


class MaskedVisitorOut(BaseModel):
    name: str | None
    id_type: str
    id_number: str | None
    phone: str | None


class MemberOut(BaseModel):
    member_id: str = Field(description="a ticket id, or <group ticket id>#<index>")
    ticket_id: str
    order_id: str
    visitor: MaskedVisitorOut | None
    entries_allowed: int
    credential: str = Field(description="the QR payload")


class GroupOrderOut(BaseModel):
    id: str
    state: str
    amount: int


class GroupOut(BaseModel):
    order_no: str
    order_id: str
    status: str = Field(description="pending (awaiting approval) | confirmed | rejected")
    cutoff: str = Field(description="ISO time: roster changes close then")
    guide: dict[str, Any] | None
    agency: str
    product_id: str
    travel_date: str
    slot: str
    head_count: int
    state: str
    amount: int
    orders: list[GroupOrderOut]
    ticket_mode: str
    members: list[MemberOut]


class GroupView(BaseModel):
    group: GroupOut
    replay: bool = Field(description="true: this answers an earlier booking of the order_no")


class RefundOut(GroupView):
    refunded_amount: int


def parse(raw: bytes, model: type[M]) -> M:
    try:
        data = json_loads(raw)
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
    return web.json_response(body, status=status, dumps=json_dumps)


def mount(ctx: Any, guard: Guard, agencies: Agencies, groups: Groups) -> None:
    r = ctx.routes
    r.scheme(AUTH, SCHEME)

    @r.get(
        "/api/agency/account",
        summary="The agency's balance and credit",
        tag=TAG,
        auth=AUTH,
        responses={200: "the account", **REFUSALS},
        response=AccountView,
    )
    async def account(request: web.Request) -> web.Response:
        caller = await guard.check(request)
        acct = await ctx.accounts.get(account_id(caller.agency_id))
        return json({"account": acct.as_dict() if acct else None})

    @r.post(
        "/api/agency/rosters",
        summary="Upload a roster (CSV or XLSX as the raw body); answers a roster_id",
        tag=TAG,
        auth=AUTH,
        body=raw_body(
            "text/csv",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            description="the roster file itself (姓名, 证件类型, 证件号码, 手机 columns)",
        ),
        query={"filename": "the file's name (its extension tells CSV from XLSX)"},
        responses={201: "accepted", 422: "ROSTER_INVALID, with a per-row report", **REFUSALS},
        response=RosterOut,
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
        responses={
            200: "a replay of an earlier booking of this order_no",
            201: "booked (or pending approval)",
            400: "not JSON, or a field missing or wrong",
            404: "UNKNOWN_ROSTER",
            409: "sold out, ID already booked that day, order_no reused with another body",
            422: "ROSTER_REQUIRED, ROSTER_INVALID, VISITOR_COUNT_MISMATCH, a rule, no money",
            **REFUSALS,
        },
        response=GroupView,
    )
    async def book(request: web.Request) -> web.Response:
        caller = await guard.check(request)
        body = parse(caller.body, GroupIn)
        result = await groups.book(caller.agency, body)
        return json(result, 200 if result["replay"] else 201)

    @r.get(
        "/api/agency/groups/{order_no}",
        summary="A group and its roster",
        tag=TAG,
        auth=AUTH,
        responses={200: "the group", 404: "unknown order_no", **REFUSALS},
        response=GroupView,
    )
    async def get(request: web.Request) -> web.Response:
        caller = await guard.check(request)
        return json(await groups.view(caller.agency_id, request.match_info["order_no"]))

    @r.post(
        "/api/agency/groups/{order_no}/amendments",
        summary="Replace, add or remove visitors until the cut-off",
        tag=TAG,
        auth=AUTH,
        body=AmendIn,
        responses={
            200: "the group as amended",
            404: "unknown group or ticket",
            409: "ROSTER_CLOSED, GROUP_TICKET, INVALID_STATE",
            422: "ROSTER_INVALID, OVER_HEAD_COUNT",
            **REFUSALS,
        },
        response=GroupView,
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
        responses={
            200: "refunded",
            404: "unknown group or ticket",
            409: "GROUP_TICKET, INVALID_STATE",
            **REFUSALS,
        },
        response=RefundOut,
    )
    async def refund(request: web.Request) -> web.Response:
        caller = await guard.check(request)
        body = parse(caller.body, RefundIn)
        doc, _ = await groups.find(caller.agency_id, request.match_info["order_no"])
        return json(await groups.refund(doc, body))

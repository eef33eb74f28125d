"""Routes venue staff call (admin bearer token): agencies, money, prices, credentials,
per-product policies, approvals, no-shows and statements."""

from __future__ import annotations

from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from hub.domain import PriceRule
from hub.sdk import ChannelContext
from hub.sdk.web import NO_BODY, ApiError, query_day, read_model
from plugins.channel_agency import noshow, statements
from plugins.channel_agency.api_agency import AccountOut, AccountView, GroupView, RefundOut, json
from plugins.channel_agency.groups import Groups, RefundIn
from plugins.channel_agency.profiles import (
    Agencies,
    AgencyIn,
    PriceIn,
    ProductPolicyIn,
    account_id,
)

TAG, AUTH = "agency-admin", "admin"
BASE = "/api/admin/agencies"


class TopUpIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: int = Field(gt=0, le=10**12)
    key: str = Field(min_length=1, max_length=64, description="idempotency key")
    note: str = Field(default="", max_length=200)


class StatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["active", "suspended"]


class AgencyView(BaseModel):
    agency: dict[str, Any] = Field(description="the profile as saved (AgencyIn and key_ids)")
    account: AccountOut | None


class CredentialsOut(BaseModel):
    key_id: str
    secret: str = Field(description="shown once: the hub answers it nowhere else")


class PricesOut(BaseModel):
    product_id: str
    prices: list[PriceRule]


class PendingOut(BaseModel):
    pending: list[dict[str, Any]]


class NoShowsOut(BaseModel):
    agencies: list[dict[str, Any]]


UNKNOWN: dict[int, str] = {404: "unknown agency"}
DECIDE: dict[int, str] = {
    200: "decided",
    404: "unknown group",
    409: "not pending (INVALID_STATE)",
}


def mount(ctx: ChannelContext, agencies: Agencies, groups: Groups) -> None:
    r = ctx.routes

    def auth(request: web.Request) -> None:
        ctx.require_staff(request, "admin")

    @r.put(
        f"{BASE}/{{agency_id}}",
        summary="Create or update an agency",
        tag=TAG,
        auth=AUTH,
        body=AgencyIn,
        responses={200: "updated", 201: "created"},
        response=AgencyView,
    )
    async def put_agency(request: web.Request) -> web.Response:
        auth(request)
        agency_id = request.match_info["agency_id"]
        if not agency_id.replace("-", "").replace("_", "").isalnum() or len(agency_id) > 40:
            raise ApiError(400, "INVALID_REQUEST", "agency id: letters, digits, - and _")
        body = await read_model(request, AgencyIn)
        _, created = await agencies.save(agency_id, body)
        return json(await agencies.view(agency_id), 201 if created else 200)

    @r.get(
        f"{BASE}/{{agency_id}}",
        summary="An agency and its account",
        tag=TAG,
        auth=AUTH,
        responses={200: "the agency", **UNKNOWN},
        response=AgencyView,
    )
    async def get_agency(request: web.Request) -> web.Response:
        auth(request)
        return json(await agencies.view(request.match_info["agency_id"]))

    @r.post(
        f"{BASE}/{{agency_id}}/top-up",
        summary="Add money (idempotent on key)",
        tag=TAG,
        auth=AUTH,
        body=TopUpIn,
        responses={200: "the account after it", **UNKNOWN},
        response=AccountView,
    )
    async def top_up(request: web.Request) -> web.Response:
        auth(request)
        agency_id = request.match_info["agency_id"]
        await agencies.require(agency_id)
        body = await read_model(request, TopUpIn)
        acct = await ctx.accounts.top_up(
            account_id(agency_id), body.amount, key=f"agency:{agency_id}:{body.key}", note=body.note
        )
        return json({"account": acct.as_dict()})

    @r.post(
        f"{BASE}/{{agency_id}}/status",
        summary="Suspend or activate",
        tag=TAG,
        auth=AUTH,
        body=StatusIn,
        responses={200: "the agency", **UNKNOWN},
        response=AgencyView,
    )
    async def set_status(request: web.Request) -> web.Response:
        auth(request)
        body = await read_model(request, StatusIn)
        await agencies.set_status(request.match_info["agency_id"], body.status)
        return json(await agencies.view(request.match_info["agency_id"]))

    @r.post(
        f"{BASE}/{{agency_id}}/credentials",
        summary="Issue or rotate API credentials (the secret is shown once)",
        tag=TAG,
        auth=AUTH,
        body=NO_BODY,
        responses={201: "issued; the old key no longer works", **UNKNOWN},
        response=CredentialsOut,
    )
    async def credentials(request: web.Request) -> web.Response:
        auth(request)
        return json(await agencies.rotate_credentials(request.match_info["agency_id"]), 201)

    @r.put(
        f"{BASE}/{{agency_id}}/prices",
        summary="Set a negotiated price",
        tag=TAG,
        auth=AUTH,
        body=PriceIn,
        responses={200: "the product's prices", 404: "unknown agency or product"},
        response=PricesOut,
    )
    async def price(request: web.Request) -> web.Response:
        auth(request)
        body = await read_model(request, PriceIn)
        product = await agencies.set_price(request.match_info["agency_id"], body)
        return json(
            {
                "product_id": product.id,
                "prices": [p.model_dump(mode="json") for p in product.prices],
            }
        )

    @r.put(
        "/api/admin/agency-products/{product_id}",
        summary="Per-product agency policy (approval, ticket mode, cut-off)",
        tag=TAG,
        auth=AUTH,
        body=ProductPolicyIn,
        response={"type": "object", "description": "the policy as saved"},
    )
    async def product_policy(request: web.Request) -> web.Response:
        auth(request)
        body = await read_model(request, ProductPolicyIn)
        return json(await agencies.set_product_policy(request.match_info["product_id"], body))

    @r.get(
        "/api/admin/agency-approvals",
        summary="Groups awaiting approval",
        tag=TAG,
        auth=AUTH,
        response=PendingOut,
    )
    async def approvals(request: web.Request) -> web.Response:
        auth(request)
        return json({"pending": await groups.pending()})

    @r.post(
        "/api/admin/agency-groups/{order_id}/approve",
        summary="Approve: issue tickets",
        tag=TAG,
        auth=AUTH,
        body=NO_BODY,
        responses=DECIDE,
        response=GroupView,
    )
    async def approve(request: web.Request) -> web.Response:
        auth(request)
        return json(await groups.decide(request.match_info["order_id"], True))

    @r.post(
        "/api/admin/agency-groups/{order_id}/reject",
        summary="Reject: stock and money back",
        tag=TAG,
        auth=AUTH,
        body=NO_BODY,
        responses=DECIDE,
        response=GroupView,
    )
    async def reject(request: web.Request) -> web.Response:
        auth(request)
        return json(await groups.decide(request.match_info["order_id"], False))

    @r.post(
        "/api/admin/agency-groups/{order_id}/refund",
        summary="Refund visitors or the whole group",
        tag=TAG,
        auth=AUTH,
        body=RefundIn,
        responses={200: "refunded", 404: "unknown group or ticket", 409: "nothing to refund"},
        response=RefundOut,
    )
    async def refund(request: web.Request) -> web.Response:
        auth(request)
        body = await read_model(request, RefundIn)
        doc, _ = await groups.load(request.match_info["order_id"])
        return json(await groups.refund(doc, body))

    @r.post(
        "/api/admin/agency-noshows/run",
        summary="Count no-shows and apply each agency's policy",
        tag=TAG,
        auth=AUTH,
        body=NO_BODY,
        query={"today": "YYYY-MM-DD (default: today)"},
        response=NoShowsOut,
    )
    async def noshows(request: web.Request) -> web.Response:
        auth(request)
        today = query_day(request, "today") if "today" in request.query else ctx.clock.now().date()
        return json({"agencies": await noshow.run(ctx.orders, agencies, today)})

    @r.get(
        f"{BASE}/{{agency_id}}/statement",
        summary="Statement of a period (JSON or CSV)",
        tag=TAG,
        auth=AUTH,
        query={"from": "YYYY-MM-DD", "to": "YYYY-MM-DD", "format": "json|csv"},
    )
    async def statement(request: web.Request) -> web.Response:
        auth(request)
        agency_id = request.match_info["agency_id"]
        await agencies.require(agency_id)
        doc = await statements.statement(
            ctx.accounts,
            ctx.store("agency"),
            agency_id,
            query_day(request, "from"),
            query_day(request, "to"),
        )
        if request.query.get("format") == "csv":
            return web.Response(text=statements.to_csv(doc), content_type="text/csv")
        return json(doc)

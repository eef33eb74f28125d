"""Agency records: who the agency is, how it pays, how it is treated.

The profile lives in the plugin store (the agency plugin owns its meaning); the MONEY lives
in a hub account ``agency:<id>`` so that the core can charge it in the same transaction
that takes the stock. Everything here is a thin, explicit layer over those two stores:
nothing about money is computed in the plugin.
"""

from __future__ import annotations

from datetime import date, time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from hub.domain import PriceRule, Product
from hub.domain.errors import Denial, DeniedError

STORE = "agency"
AgencyType = Literal["local_agency", "originating_agency", "contract_unit", "guide"]
TicketMode = Literal["per_visitor", "group"]


def account_id(agency_id: str) -> str:
    return f"agency:{agency_id}"


class ContactIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    name: str = Field(default="", max_length=100)
    phone: str | None = Field(default=None, max_length=32)
    email: str | None = Field(default=None, max_length=200)


class NoShowPolicy(BaseModel):
    """Warn at `warn_at` no-shows, suspend at `suspend_at`, counted over `period_days`."""

    model_config = ConfigDict(extra="forbid")
    warn_at: int = Field(default=5, ge=1)
    suspend_at: int = Field(default=20, ge=1)
    period_days: int = Field(default=30, ge=1, le=366)


class Cutoff(BaseModel):
    """Roster changes close `days_before` the trip at `at` (venue-local time)."""

    model_config = ConfigDict(extra="forbid")
    days_before: int = Field(default=1, ge=0, le=30)
    at: time = time(18, 0)


class AgencyIn(BaseModel):
    """What staff send to create or update an agency."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    name: str = Field(min_length=1, max_length=200)
    type: AgencyType = "local_agency"
    contact: ContactIn = Field(default_factory=ContactIn)
    status: Literal["active", "suspended"] = "active"
    payment: Literal["credit", "prepaid"] = "prepaid"
    credit_limit: int = Field(default=0, ge=0, description="fen; only for payment=credit")
    rate_per_second: float = Field(default=10.0, gt=0, le=10_000)
    burst: int = Field(default=20, ge=1, le=100_000)
    require_approval: bool = False
    approval_hours: int = Field(default=48, ge=1, le=24 * 30)
    ticket_mode: TicketMode = "per_visitor"
    cutoff: Cutoff = Field(default_factory=Cutoff)
    no_show: NoShowPolicy = Field(default_factory=NoShowPolicy)


class ProductPolicyIn(BaseModel):
    """Per-product overrides for agency bookings (None = the agency's own setting)."""

    model_config = ConfigDict(extra="forbid")
    require_approval: bool | None = None
    ticket_mode: TicketMode | None = None
    cutoff: Cutoff | None = None


class PriceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    product_id: str = Field(min_length=1, max_length=64)
    amount: int = Field(ge=0, description="fen per visitor")
    date_from: date | None = None
    date_to: date | None = None


class Agencies:
    """Profiles, credentials and per-product policies, on top of the plugin store and the
    hub's account service (both looked up from the channel context on use)."""

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx

    @property
    def store(self) -> Any:
        return self.ctx.store(STORE)

    async def get(self, agency_id: str) -> dict[str, Any] | None:
        return await self.store.get("profile", agency_id)

    async def require(self, agency_id: str) -> dict[str, Any]:
        found = await self.get(agency_id)
        if found is None:
            raise DeniedError(Denial("UNKNOWN_AGENCY", f"No agency {agency_id}"))
        return found

    async def save(self, agency_id: str, body: AgencyIn) -> tuple[dict[str, Any], bool]:
        """Create or update; the account is opened (or its limit changed) FIRST, so a
        refused limit (below what is already used) changes nothing."""
        existing = await self.get(agency_id)
        acct = account_id(agency_id)
        await self.ctx.accounts.open(
            acct, owner=f"agency {agency_id}", kind=body.payment, credit_limit=body.credit_limit
        )
        await self.ctx.accounts.set_status(acct, body.status)
        doc = {**(existing or {}), **body.model_dump(mode="json"), "id": agency_id}
        doc.setdefault("key_ids", [])
        await self.store.put("profile", agency_id, doc)
        return doc, existing is None

    async def set_status(self, agency_id: str, status: str) -> dict[str, Any]:
        doc = await self.require(agency_id)
        await self.ctx.accounts.set_status(account_id(agency_id), status)
        doc = {**doc, "status": status}
        await self.store.put("profile", agency_id, doc)
        return doc

    async def view(self, agency_id: str) -> dict[str, Any]:
        doc = await self.require(agency_id)
        acct = await self.ctx.accounts.get(account_id(agency_id))
        return {"agency": doc, "account": acct.as_dict() if acct else None}

    # -- credentials -----------------------------------------------------------------------
    async def rotate_credentials(self, agency_id: str) -> dict[str, str]:
        """Issue a new key and drop the old ones: the secret is returned ONCE, here."""
        from plugins.channel_agency.signing import new_credentials

        doc = await self.require(agency_id)
        key_id, secret = _pair(new_credentials())
        for old in doc.get("key_ids", []):
            await self.store.delete("key", old)
        await self.store.put("key", key_id, {"agency": agency_id, "secret": secret})
        await self.store.put("profile", agency_id, {**doc, "key_ids": [key_id]})
        return {"key_id": key_id, "secret": secret}

    async def key(self, key_id: str) -> dict[str, Any] | None:
        return await self.store.get("key", key_id)

    # -- product policies and negotiated prices ----------------------------------------------
    async def product_policy(self, product_id: str) -> dict[str, Any]:
        return await self.store.get("product", product_id) or {}

    async def set_product_policy(self, product_id: str, body: ProductPolicyIn) -> dict[str, Any]:
        doc = body.model_dump(mode="json", exclude_none=True)
        await self.store.put("product", product_id, doc)
        return doc

    async def set_price(self, agency_id: str, body: PriceIn) -> Product:
        """Add or replace this agency's negotiated price on the product (same account and
        dates → replaced), saved through the catalog service so caches and validation
        stay the core's business."""
        await self.require(agency_id)
        product = await self.ctx.orders.catalog.product(body.product_id)
        if product is None:
            raise DeniedError(Denial("UNKNOWN_PRODUCT", f"No product {body.product_id}"))
        acct = account_id(agency_id)
        rule = PriceRule(
            amount=body.amount, account=acct, date_from=body.date_from, date_to=body.date_to
        )
        kept = tuple(
            p
            for p in product.prices
            if not (
                p.account == acct and (p.date_from, p.date_to) == (rule.date_from, rule.date_to)
            )
        )
        updated = product.model_copy(update={"prices": (*kept, rule)})
        await self.ctx.orders.catalog.save_product(updated)
        return updated


def _pair(creds: Any) -> tuple[str, str]:
    """`new_credentials()` may return a pair or an object; accept both."""
    if isinstance(creds, tuple):
        return str(creds[0]), str(creds[1])
    if isinstance(creds, dict):
        return str(creds["key_id"]), str(creds["secret"])
    return str(creds.key_id), str(creds.secret)

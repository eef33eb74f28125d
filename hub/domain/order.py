"""Orders, tickets and redemptions: the canonical shapes every channel translates into."""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hub.domain.combo import TicketPart
from hub.domain.masking import mask_id, mask_name, mask_phone


def fingerprint_json(value: Any) -> str:
    blob = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


class IdType(StrEnum):
    ID_CARD = "id_card"  # 18-digit mainland resident identity card
    PASSPORT = "passport"
    HK_MACAU_PERMIT = "hk_macau_permit"
    TAIWAN_PERMIT = "taiwan_permit"
    FOREIGNER_PERMIT = "foreigner_permit"
    OTHER = "other"


class Visitor(BaseModel):
    model_config = ConfigDict(frozen=True, str_strip_whitespace=True)

    name: str = Field(default="", max_length=100)
    id_type: IdType = IdType.ID_CARD
    id_number: str | None = Field(default=None, max_length=32)
    phone: str | None = Field(default=None, max_length=32)

    @field_validator("id_number")
    @classmethod
    def _upper(cls, v: str | None) -> str | None:
        return v.upper() if v else None

    def masked(self) -> dict[str, Any]:
        return {
            "name": mask_name(self.name),
            "id_type": self.id_type.value,
            "id_number": mask_id(self.id_number),
            "phone": mask_phone(self.phone),
        }


class Contact(BaseModel):
    model_config = ConfigDict(frozen=True, str_strip_whitespace=True)

    name: str = Field(default="", max_length=100)
    phone: str | None = Field(default=None, max_length=32)
    email: str | None = Field(default=None, max_length=200)


class OrderLine(BaseModel):
    model_config = ConfigDict(frozen=True)

    product_id: str = Field(min_length=1, max_length=64)
    quantity: int = Field(ge=1, le=1000)
    unit_price: int | None = Field(default=None, ge=0, description="fen; set by the hub")


class OrderRequest(BaseModel):
    """What a channel asks for, after its adapter verified and translated the partner's
    message. `partner_order_id` is the partner's own key: intake is idempotent on it."""

    model_config = ConfigDict(frozen=True, str_strip_whitespace=True)

    channel: str = Field(min_length=1, max_length=32)
    partner_order_id: str = Field(min_length=1, max_length=128)
    venue_id: str | None = None
    lines: tuple[OrderLine, ...] = Field(min_length=1, max_length=20)
    visitors: tuple[Visitor, ...] = Field(default=(), max_length=1000)
    contact: Contact | None = None
    travel_date: date
    slot: str = Field(default="", max_length=32)
    amount: int | None = Field(default=None, ge=0, description="fen the partner charged; checked")
    currency: str = "CNY"
    confirm: bool = Field(default=False, description="paid already: confirm in the same step")
    account: str | None = Field(
        default=None,
        max_length=64,
        description="B2B account (credit line or prepaid balance) charged with the amount in "
        "the same transaction that takes the stock; its negotiated prices apply",
    )
    group_ticket: bool = Field(
        default=False,
        description="one credential per line admitting its whole quantity (a guide's "
        "group ticket) instead of one per visitor",
    )
    hold_until: datetime | None = Field(
        default=None, description="keep the hold until then (e.g. awaiting staff approval)"
    )
    extra: dict[str, Any] = Field(default_factory=dict, description="channel-specific fields")

    @property
    def quantity(self) -> int:
        return sum(line.quantity for line in self.lines)

    def fingerprint(self) -> str:
        """Stable hash of the request: a replay with a different body is a conflict."""
        # Keys sorted: a partner that re-sends the same JSON with its keys in another
        # order is replaying, not changing the request.
        return fingerprint_json(self.model_dump(mode="json"))


class OrderState(StrEnum):
    HELD = "held"
    CONFIRMED = "confirmed"
    PARTLY_REDEEMED = "partly_redeemed"
    REDEEMED = "redeemed"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"
    EXPIRED = "expired"

    @property
    def final(self) -> bool:
        return self in _FINAL


#: EXPIRED is not final: a payment that lands after the hold ran out may still confirm
#: the order if its stock can be taken again (`Lifecycle.confirm(..., retake=True)`).
_FINAL = {OrderState.REDEEMED, OrderState.CANCELLED, OrderState.REFUNDED}

#: Allowed moves. Stock follows: held→confirmed moves held to sold; held→cancelled/expired
#: releases held; confirmed→refunded/cancelled returns sold (for unused tickets);
#: expired→confirmed (a late payment) takes the released units again, straight to sold.
TRANSITIONS: dict[OrderState, frozenset[OrderState]] = {
    OrderState.HELD: frozenset({OrderState.CONFIRMED, OrderState.CANCELLED, OrderState.EXPIRED}),
    OrderState.CONFIRMED: frozenset(
        {
            OrderState.PARTLY_REDEEMED,
            OrderState.REDEEMED,
            OrderState.CANCELLED,
            OrderState.REFUNDED,
        }
    ),
    OrderState.PARTLY_REDEEMED: frozenset({OrderState.REDEEMED, OrderState.REFUNDED}),
    OrderState.REDEEMED: frozenset(),
    OrderState.CANCELLED: frozenset(),
    OrderState.REFUNDED: frozenset(),
    OrderState.EXPIRED: frozenset({OrderState.CONFIRMED}),
}


def can_move(src: OrderState, dst: OrderState) -> bool:
    return dst in TRANSITIONS[src]


class TicketState(StrEnum):
    VALID = "valid"
    USED = "used"  # every entry allowed has been taken
    REVOKED = "revoked"  # refunded or cancelled: on the revocation list


class Ticket(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    order_id: str
    product_id: str
    venue_id: str
    visitor_index: int | None = None
    holder_id_number: str | None = None
    valid_from: datetime
    valid_until: datetime
    entries_allowed: int = 1
    entries_used: int = 0
    units: int = Field(default=1, ge=1, description="people it admits (a group ticket: N)")
    state: TicketState = TicketState.VALID
    credential: str = ""
    parts: dict[str, TicketPart] | None = None  # a combo's entries per attraction (combo.py)


class Order(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    channel: str
    partner_order_id: str
    venue_id: str
    state: OrderState
    travel_date: date
    slot: str = ""
    lines: tuple[OrderLine, ...]
    visitors: tuple[Visitor, ...] = ()
    contact: Contact | None = None
    amount: int = 0
    currency: str = "CNY"
    created_at: datetime
    hold_expires_at: datetime | None = None
    confirmed_at: datetime | None = None
    tickets: tuple[Ticket, ...] = ()

    @property
    def quantity(self) -> int:
        return sum(line.quantity for line in self.lines)


class Redemption(BaseModel):
    """One gate decision about one ticket. `id` is chosen by whoever decided (the bridge),
    so the hub records it once however often it is retried."""

    model_config = ConfigDict(frozen=True)

    id: str
    ticket_id: str
    venue_id: str
    gate: str
    device: str = ""
    medium: str = "qr"
    direction: str = "in"
    at: datetime
    accepted: bool = True
    code: str = ""

"""Denials: why the hub said no, as a machine code plus words a person can read.

Channels map `DenialCode` to their own vocabulary (Ctrip `1004`, Meituan `599`, …) through
their channel spec; a gate display shows `reason`. Codes are stable API: add, never rename.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class DenialCode(StrEnum):
    # input and identity
    INVALID_REQUEST = "INVALID_REQUEST"
    REAL_NAME_REQUIRED = "REAL_NAME_REQUIRED"
    INVALID_ID_NUMBER = "INVALID_ID_NUMBER"
    DUPLICATE_VISITOR = "DUPLICATE_VISITOR"
    # catalog
    UNKNOWN_PRODUCT = "UNKNOWN_PRODUCT"
    PRODUCT_INACTIVE = "PRODUCT_INACTIVE"
    NO_PRICE = "NO_PRICE"
    AMOUNT_MISMATCH = "AMOUNT_MISMATCH"
    CHANNEL_NOT_ALLOWED = "CHANNEL_NOT_ALLOWED"
    # sale rules
    QUANTITY_TOO_SMALL = "QUANTITY_TOO_SMALL"
    QUANTITY_TOO_LARGE = "QUANTITY_TOO_LARGE"
    GROUP_TOO_SMALL = "GROUP_TOO_SMALL"
    VISITOR_COUNT_MISMATCH = "VISITOR_COUNT_MISMATCH"
    ID_DAILY_LIMIT = "ID_DAILY_LIMIT"
    BOOKING_TOO_EARLY = "BOOKING_TOO_EARLY"
    BOOKING_CLOSED = "BOOKING_CLOSED"
    DATE_NOT_USABLE = "DATE_NOT_USABLE"
    SLOT_NOT_USABLE = "SLOT_NOT_USABLE"
    AGE_NOT_ELIGIBLE = "AGE_NOT_ELIGIBLE"
    RULE_DENIED = "RULE_DENIED"
    # stock and money
    SOLD_OUT = "SOLD_OUT"
    UNKNOWN_ACCOUNT = "UNKNOWN_ACCOUNT"
    ACCOUNT_SUSPENDED = "ACCOUNT_SUSPENDED"
    INSUFFICIENT_FUNDS = "INSUFFICIENT_FUNDS"
    # order lifecycle
    UNKNOWN_ORDER = "UNKNOWN_ORDER"
    INVALID_STATE = "INVALID_STATE"
    HOLD_EXPIRED = "HOLD_EXPIRED"
    ALREADY_REDEEMED = "ALREADY_REDEEMED"
    IDEMPOTENCY_CONFLICT = "IDEMPOTENCY_CONFLICT"
    # entry
    UNKNOWN_TICKET = "UNKNOWN_TICKET"
    BAD_CREDENTIAL = "BAD_CREDENTIAL"
    TICKET_REVOKED = "TICKET_REVOKED"
    WRONG_VENUE = "WRONG_VENUE"
    NOT_VALID_TODAY = "NOT_VALID_TODAY"
    OUTSIDE_ENTRY_WINDOW = "OUTSIDE_ENTRY_WINDOW"
    ENTRIES_PER_DAY_EXCEEDED = "ENTRIES_PER_DAY_EXCEEDED"
    ENTRIES_EXHAUSTED = "ENTRIES_EXHAUSTED"
    PARK_FULL = "PARK_FULL"  # the in-park ceiling (safety limit) is reached
    NOT_AT_THIS_GATE = "NOT_AT_THIS_GATE"  # a combo without a part for this gate's attraction
    PART_REFUNDED = "PART_REFUNDED"  # the combo part of this gate was refunded


@dataclass(frozen=True, slots=True)
class Denial:
    """A refusal. `reason` is short enough for a turnstile display (≈ 40 characters)."""

    code: DenialCode | str
    reason: str
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": str(self.code), "message": self.reason}
        if self.details:
            out["details"] = self.details
        return out


class DeniedError(Exception):
    """Raised inside services to abort an operation with a `Denial` (never a crash)."""

    def __init__(self, denial: Denial) -> None:
        super().__init__(f"{denial.code}: {denial.reason}")
        self.denial = denial

    @classmethod
    def of(cls, code: DenialCode | str, reason: str, **details: Any) -> DeniedError:
        return cls(Denial(code, reason, details))

"""Combo tickets checked per part: one credential, separate entries per attraction.

A combo product (main gate + cable car + show) is sold as ONE ticket with one QR code,
but each of its parts has its own entries: the cable car's gate takes the cable car's
entry and cannot take the main gate's. Gates belong to attractions (the venue's gate →
attraction map, set through the admin API and sent to the bridges with their config);
a part's key is its component's attraction (`ComboComponent.part`).

A gate that belongs to no attraction is a gate of the venue itself: a combo uses its
FIRST part there (the main gate, by the order staff list the components in). Plain
tickets ignore the map entirely — they enter as they always did.

The ticket's own ``entries_allowed``/``entries_used`` stay the sums over its parts, so
everything that reads a ticket's entry count (the day report, the order's state, the
partners' consumed notices) keeps working; the parts say where those entries may be
taken. Pure: the hub (uploads, refunds) and the bridge (the gate decision) share it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hub.domain.catalog import Product, ProductKind
from hub.domain.errors import Denial, DenialCode


class TicketPart(BaseModel):
    """One part of a combo ticket: its entries and whether it was refunded unused."""

    model_config = ConfigDict(frozen=True)

    allowed: int = Field(ge=0)
    used: int = Field(default=0, ge=0)
    refunded: bool = False

    @property
    def left(self) -> int:
        return 0 if self.refunded else max(0, self.allowed - self.used)


Parts = dict[str, TicketPart]


def parts_for(product: Product | None, units: int = 1) -> Parts | None:
    """The parts a new ticket of ``product`` carries (None: not a combo). A group ticket
    admitting ``units`` people has ``units`` entries per component unit."""
    if product is None or product.kind is not ProductKind.COMBO:
        return None
    return {c.part: TicketPart(allowed=c.quantity * max(1, units)) for c in product.components}


def part_at_gate(product: Product, attraction: str | None) -> str | None:
    """The part a combo uses at a gate of ``attraction`` (None: a gate of the venue itself,
    where the first part — the main gate — is taken); None when it has no such part."""
    keys = [c.part for c in product.components]
    if attraction is None:
        return keys[0] if keys else None
    return attraction if attraction in keys else None


def check_part(parts: Mapping[str, TicketPart], part: str | None, used: int) -> Denial | None:
    """May one more entry be taken from ``part``, ``used`` entries being known (the hub's
    count plus what this bridge has not uploaded yet)? Reasons are short, gate-safe."""
    if part is None or part not in parts:
        return Denial(DenialCode.NOT_AT_THIS_GATE, "Ticket has no entry at this gate")
    p = parts[part]
    if p.refunded:
        return Denial(DenialCode.PART_REFUNDED, f"{part}: refunded", {"part": part})
    if used >= p.allowed:
        return Denial(
            DenialCode.ENTRIES_EXHAUSTED,
            f"{part}: already used",
            {"part": part, "used": used, "allowed": p.allowed},
        )
    return None


def all_used(parts: Mapping[str, TicketPart]) -> bool:
    """A combo ticket is used up when no part that was not refunded has an entry left
    (and at least one part was used: a fully refunded combo is revoked, not used)."""
    return all(p.left == 0 for p in parts.values()) and any(
        p.used and not p.refunded for p in parts.values()
    )


def dump_parts(parts: Mapping[str, TicketPart] | None) -> dict[str, Any] | None:
    """The JSON form stored with the ticket and sent to the bridges."""
    if parts is None:
        return None
    return {k: p.model_dump() for k, p in sorted(parts.items())}


def load_parts(value: Any) -> Parts | None:
    """From the stored JSON (a dict, or its text as the bridge keeps it); None: no parts."""
    if value in (None, "", {}):
        return None
    if isinstance(value, str):
        value = json.loads(value)
    return {str(k): TicketPart.model_validate(v) for k, v in dict(value).items()}

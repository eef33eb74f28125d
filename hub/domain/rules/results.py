"""What a rule function returns.

A rule can only see one order, yet some limits (one ID, N tickets a day, across every
channel) depend on all orders. Such a rule allows the order and hands the engine a `Claim`:
the storage then enforces it atomically in the order's transaction, where every other
order is visible.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TypeAlias

from hub.domain.errors import Denial


@dataclass(frozen=True, slots=True)
class Claim:
    """A limit the storage must enforce atomically (the engine cannot see other orders)."""

    scope: str  # e.g. "product:<product_id>" or "venue:<venue_id>"
    id_number: str  # the visitor's ID number (storage hashes it)
    day: date  # travel date
    amount: int  # units this order adds for that ID
    limit: int  # maximum units per ID per day in that scope, across ALL channels


@dataclass(frozen=True, slots=True)
class Allow:
    """An explicit "yes", carrying the claims the storage must still make good."""

    claims: tuple[Claim, ...] = ()


#: ``None`` allows, a `Denial` refuses, an `Allow` allows with claims.
RuleResult: TypeAlias = Denial | Allow | None

"""The canonical language of tickethub: pure data and pure functions, no I/O.

Every partner and every device vendor is translated into these types at the edge of the
system (in its plugin); the hub and the venue bridge speak nothing else.
"""

from __future__ import annotations

from hub.domain.catalog import ComboComponent, PriceRule, Product, ProductKind, SlotInfo, Venue
from hub.domain.errors import Denial, DenialCode
from hub.domain.order import (
    Contact,
    IdType,
    Order,
    OrderLine,
    OrderRequest,
    OrderState,
    Redemption,
    Ticket,
    TicketState,
    Visitor,
)

__all__ = [
    "ComboComponent",
    "Contact",
    "Denial",
    "DenialCode",
    "IdType",
    "Order",
    "OrderLine",
    "OrderRequest",
    "OrderState",
    "PriceRule",
    "Product",
    "ProductKind",
    "Redemption",
    "SlotInfo",
    "Ticket",
    "TicketState",
    "Venue",
    "Visitor",
]

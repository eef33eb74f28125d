"""A combo ticket at the gate: which of its parts this gate takes, and the ticket as that
part sees it (`hub.domain.combo`).

The decider evaluates the ONE rule engine over the part, not the whole ticket: the
ticket's ``entries_allowed``/``entries_used`` become the part's and the entry counters
(today, in all) count only the entries taken from that part — at this bridge, plus what
the hub counted (from the synced ``parts``), exactly like the whole-ticket arithmetic.
So the main gate and the cable car each admit once, and a second cable-car entry is
refused with the part's name, offline as online.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from hardware_bridge.store import BridgeStore
from hub.domain import Product, Ticket
from hub.domain.combo import Parts, check_part, part_at_gate
from hub.domain.errors import Denial


@dataclass(frozen=True, slots=True)
class PartView:
    part: str
    ticket: Ticket  # the part's entries as the ticket's
    today: int
    total: int


def part_key(
    product: Product | None, parts: Parts | None, gates: Mapping[str, str], gate: str
) -> str:
    """The part a combo takes at ``gate`` ("" for a plain ticket, or no such part)."""
    if parts is None or product is None:
        return ""
    return part_at_gate(product, gates.get(gate)) or ""


def part_view(
    store: BridgeStore,
    ticket: Ticket,
    parts: Parts,
    product: Product | None,
    gates: Mapping[str, str],
    gate: str,
    day: str,
) -> PartView | Denial:
    """The ticket as the part of this gate sees it, or why it has no entry here."""
    part = part_key(product, parts, gates, gate)
    today, local_all, unsynced = store.part_entries(ticket.id, part, day) if part else (0, 0, 0)
    hub_used = parts[part].used if part in parts else 0
    total = max(local_all, hub_used + unsynced)
    denial = check_part(parts, part or None, total)
    if denial is not None:
        return denial
    p = parts[part]
    view = ticket.model_copy(update={"entries_allowed": p.allowed, "entries_used": p.used})
    return PartView(part, view, today, total)

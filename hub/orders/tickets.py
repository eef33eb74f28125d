"""Ticket issuance: one ticket per unit, each with a signed QR credential that a gate can
verify offline with only the venue's public key."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import UTC, datetime

from hub.catalog import VenueKeys
from hub.domain import Ticket, TicketState
from hub.domain.credentials import CredentialClaims
from hub.orders.prepare import TicketSpec


def new_ticket_id() -> str:
    return secrets.token_hex(8)


def issue(
    order_id: str,
    venue_id: str,
    keys: VenueKeys,
    specs: Sequence[TicketSpec],
    valid_from: datetime,
    valid_until: datetime,
) -> list[Ticket]:
    if keys.signer is None:
        raise RuntimeError(f"venue {venue_id} has no signing key on this hub")
    vf = valid_from.astimezone(UTC)
    vu = valid_until.astimezone(UTC)
    tickets = []
    for spec in specs:
        tid = new_ticket_id()
        credential = keys.signer.sign(
            CredentialClaims(
                ticket_id=tid,
                product_id=spec.product_id,
                valid_from=vf,
                valid_until=vu,
                entries_allowed=spec.entries_allowed,
                key_id=keys.key_id,
            )
        )
        tickets.append(
            Ticket.model_construct(
                id=tid,
                order_id=order_id,
                product_id=spec.product_id,
                venue_id=venue_id,
                visitor_index=spec.visitor_index,
                holder_id_number=spec.holder_id_number,
                valid_from=vf,
                valid_until=vu,
                entries_allowed=spec.entries_allowed,
                credential=credential,
                entries_used=0,
                units=spec.units,
                state=TicketState.VALID,
                parts=spec.parts,
            )
        )
    return tickets

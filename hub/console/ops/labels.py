"""Words for the codes the operations pages show (order and ticket states, outbox states,
conflict codes), marked for translation and translated where they are drawn
(``_(labels.STATES[order.state])``). A code without a label is shown as it is."""

from __future__ import annotations

from hub.console.i18n import N_

STATES = {
    "held": N_("held"),
    "confirmed": N_("confirmed"),
    "partly_redeemed": N_("partly used"),
    "redeemed": N_("used"),
    "cancelled": N_("cancelled"),
    "refunded": N_("refunded"),
    "expired": N_("expired"),
    # tickets
    "valid": N_("valid"),
    "used": N_("used"),
    "revoked": N_("revoked"),
    # partner calls
    "pending": N_("pending"),
    "inflight": N_("sending"),
    "done": N_("delivered"),
    "dead": N_("dead letter"),
}

CONFLICTS = {
    "ENTRIES_EXHAUSTED": N_("used more often than allowed (two offline bridges)"),
    "TICKET_REVOKED": N_("used after it was refunded or cancelled"),
    "UNKNOWN_TICKET": N_("admitted a ticket the hub does not know"),
}

MATCHED = {
    "order_id": N_("order id"),
    "partner_order_id": N_("partner order id"),
    "phone": N_("phone"),
    "id_number": N_("ID number"),
}

# reconciliation (hub.reconcile.matching.KINDS, hub.reconcile.store.STATES)
DISCREPANCY_KINDS = {
    "hub_only": N_("in the hub, not on the statement"),
    "partner_only": N_("on the statement, not in the hub"),
    "amount_mismatch": N_("amounts differ"),
    "status_mismatch": N_("status differs"),
    "duplicate": N_("duplicate"),
    "crossed_midnight": N_("crossed midnight (clears the next day)"),
}
DISCREPANCY_STATES = {
    "open": N_("open"),
    "acknowledged": N_("acknowledged"),
    "resolved": N_("resolved"),
}


def label(table: dict[str, str], code: str) -> str:
    """The msgid for ``code`` (the code itself when it has none)."""
    return table.get(code, code)

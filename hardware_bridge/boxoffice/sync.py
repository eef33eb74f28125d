"""The box office's part of each sync round.

Up, FIRST in the round (before the gate decisions, which may name its tickets): every
pending emergency order, in batches. The hub records each bridge order id once, so a
batch whose answer was lost — or the whole queue again after a crash — creates nothing
twice; an order is marked synced only from the hub's answer.

Down, after the ticket changes: this bridge's allotments and the bridge keys the venue
certified or revoked. A revocation thus reaches every bridge with its next round, and
its gates refuse the revoked key's credentials from then on.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

from hardware_bridge.boxoffice.sales import BoxOffice, hub_body
from hardware_bridge.store import BridgeStore
from hub.domain.credentials import CredentialError, key_id_of

if TYPE_CHECKING:
    from hardware_bridge.sync import HubLink

log = logging.getLogger(__name__)
BATCH = 100


class EmergencySync:
    def __init__(
        self, office: BoxOffice, link: HubLink, on_state: Callable[[], Awaitable[None]]
    ) -> None:
        self.office = office
        self.link = link
        self.on_state = on_state
        self.sent = 0

    async def push(self) -> int:
        """Send every pending order; returns orders the hub answered."""
        done = 0
        while rows := self.office.pending(BATCH):
            answer = await self.link.call(
                "POST",
                "/emergency/orders",
                json={"bridge": self.office.bridge_id, "orders": [hub_body(r) for r in rows]},
            )
            results = answer.get("results", [])
            for r in results:
                if r.get("status") == "refused":
                    log.error("hub refused emergency order %s: %s", r.get("id"), r.get("reason"))
            self.office.settle(results)
            done += len(results)
            if len(results) < len(rows):  # the hub answered for fewer: try the rest later
                break
        self.sent += done
        return done

    async def pull(self) -> bool:
        """Fetch the allotments and trusted keys; True when they changed. A hub from
        before emergency sales (404) leaves the round alone: its gates go on deciding."""
        from hardware_bridge.transport import HubRefused

        try:
            state: dict[str, Any] = await self.link.call(
                "GET", "/emergency", params={"bridge": self.office.bridge_id}
            )
        except HubRefused as exc:
            if exc.status != 404:
                raise
            log.debug("hub has no emergency sales: %s", exc)
            return False
        state.pop("server_time", None)
        if state == self.office.state():
            return False
        self.office.set_state(state)
        await self.on_state()
        return True


def revoke_cached(store: BridgeStore, key_ids: Iterable[int]) -> list[str]:
    """Mark revoked the cached valid tickets whose credential a revoked bridge key signed;
    their ids (for the devices). Runs only when the trusted keys change: it reads every
    signed credential of the cache."""
    revoked = set(key_ids)
    if not revoked:
        return []
    ids = []
    for row in store.db.execute(
        "SELECT id, credential FROM tickets WHERE state = 'valid' AND credential LIKE 'TH1.%'"
    ):
        try:
            if key_id_of(row["credential"]) in revoked:
                ids.append(str(row["id"]))
        except CredentialError:
            continue
    if ids:
        with store.tx() as conn:
            conn.executemany(
                "UPDATE tickets SET state = 'revoked' WHERE id = ?", [(i,) for i in ids]
            )
    return ids

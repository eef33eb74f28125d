"""Face enrollment: one photo per real-name ticket, for the visit and no longer.

Who may enroll is the caller's business (the mini-program checks the order is the
visitor's own, the staff API checks the staff token); this service checks the rest —
the visitor exists, the order is paid, their ticket can still be used, the photo is a
JPEG a terminal accepts — and keeps the photo encrypted in the ``face`` table. Every
change of a ticket's face takes the venue's next change number, so the venue's bridge
learns of it through its change feed and fetches the photo separately.

A face is deleted with the ticket's revocation (refund, cancellation, a visitor replaced:
`forget_revoked`, in that same transaction) and, once the visit is over (ticket used up or
past its validity), by the sweep (`purge`).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hub.clock import Clock
from hub.domain import Order, OrderState, Ticket, TicketState
from hub.faces import store as face_store
from hub.faces.crypto import FaceCipher, FaceDecryptError
from hub.redemptions.changes import stamp_ids
from hub.sdk import jpeg
from hub.sdk.faces import FaceError
from hub.storage.db import reader
from hub.storage.tables import TicketRow
from hub.tasks import Periodic

log = logging.getLogger(__name__)
TIX = TicketRow.__table__
ENROLLABLE = (OrderState.CONFIRMED, OrderState.PARTLY_REDEEMED)
STATUS = {"FACE_TOO_LARGE": 413, "NOT_A_JPEG": 400, "FACE_TOO_SMALL": 422}


@dataclass(frozen=True, slots=True)
class FacePhoto:
    ticket_id: str
    version: str
    jpeg: bytes


async def forget_revoked(conn: AsyncConnection, ticket_ids: Iterable[str]) -> set[str]:
    """Delete the faces of tickets being revoked, inside the revoking transaction (the
    revocation already publishes the tickets' change, which tells the bridges)."""
    return await face_store.forget(conn, ticket_ids)


def _check_visitor(order: Order, index: int) -> None:
    if not 0 <= index < len(order.visitors):
        raise FaceError(404, "UNKNOWN_VISITOR", f"The order has no visitor {index}")


class FaceService:
    def __init__(
        self,
        engine: AsyncEngine,
        clock: Clock,
        cipher: FaceCipher,
        *,
        max_bytes: int = jpeg.MAX_BYTES,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.cipher = cipher
        self.max_bytes = max_bytes
        self._sweeper: Periodic | None = None

    # -- enrollment ------------------------------------------------------------------------
    async def enroll(
        self, order: Order, index: int, photo: bytes, *, source: str
    ) -> dict[str, Any]:
        """Store `photo` as visitor `index`'s face (replacing an earlier one)."""
        ticket = self._ticket_of(order, index)
        try:
            info = jpeg.inspect(photo, max_bytes=self.max_bytes)
        except jpeg.JpegError as exc:
            raise FaceError(STATUS.get(exc.code, 400), exc.code, str(exc)) from None
        now = self.clock.now()
        async with self.engine.begin() as conn:
            await self._lock_valid(conn, ticket, now)
            replaced = await face_store.upsert(
                conn,
                {
                    "ticket_id": ticket.id,
                    "venue_id": ticket.venue_id,
                    "version": uuid.uuid4().hex,
                    "photo": self.cipher.seal(ticket.id, photo),
                    "width": info.width,
                    "height": info.height,
                    "size": info.size,
                    "source": source[:16],
                    "enrolled_at": now,
                },
            )
            await stamp_ids(conn, {ticket.id: ticket.venue_id})
        what = "replaced" if replaced else "enrolled"
        log.info("face %s for ticket %s (%s)", what, ticket.id, source)
        return {
            "visitor": index,
            "ticket_id": ticket.id,
            "face": {
                "width": info.width,
                "height": info.height,
                "bytes": info.size,
                "enrolled_at": now.isoformat(),
                "replaced": replaced,
            },
        }

    async def remove(self, order: Order, index: int) -> bool:
        """Withdraw visitor `index`'s face (the visitor changed their mind); False when
        none was enrolled. Allowed whatever the ticket's state: deleting is always fine."""
        _check_visitor(order, index)
        ids = [t.id for t in order.tickets if t.visitor_index == index]
        async with self.engine.begin() as conn:
            gone = await face_store.forget(conn, ids)
            if gone:
                await stamp_ids(conn, {t.id: t.venue_id for t in order.tickets if t.id in gone})
        return bool(gone)

    def _ticket_of(self, order: Order, index: int) -> Ticket:
        _check_visitor(order, index)
        if order.state not in ENROLLABLE:
            raise FaceError(
                409,
                "ORDER_NOT_CONFIRMED",
                f"The order is {order.state.value}; faces are enrolled for paid orders",
            )
        ticket = next(
            (
                t
                for t in order.tickets
                if t.visitor_index == index and t.holder_id_number and t.units == 1
            ),
            None,
        )
        if ticket is None:
            raise FaceError(
                409,
                "NOT_REAL_NAME",
                f"Visitor {index} has no real-name ticket of their own to enroll a face for",
            )
        return ticket

    async def _lock_valid(self, conn: AsyncConnection, ticket: Ticket, now: datetime) -> None:
        """Re-read the ticket under a row lock: a refund committing meanwhile either
        happened before (refused here) or waits for us and then deletes the face."""
        stmt = select(TIX.c.state, TIX.c.valid_until).where(TIX.c.id == ticket.id)
        if conn.dialect.name == "postgresql":
            stmt = stmt.with_for_update()
        row = (await conn.execute(stmt)).first()
        if row is None:
            raise FaceError(409, "TICKET_NOT_VALID", "The visitor's ticket is gone")
        if row.state != TicketState.VALID.value:
            raise FaceError(
                409, "TICKET_NOT_VALID", f"The visitor's ticket is {row.state}; no face is needed"
            )
        if row.valid_until <= now:
            raise FaceError(409, "TICKET_NOT_VALID", "The visit is over; no face is needed")

    # -- the bridge's read -------------------------------------------------------------------
    async def photo(self, venue_id: str, ticket_id: str) -> FacePhoto | None:
        """The photo of a ticket of this venue that can still be used, else None."""
        if len(ticket_id) > 32:
            return None
        async with reader(self.engine).connect() as conn:
            row = await face_store.read(conn, ticket_id)
        if row is None or row.venue_id != venue_id:
            return None
        if row.state != TicketState.VALID.value or row.valid_until <= self.clock.now():
            return None
        try:
            return FacePhoto(ticket_id, row.version, self.cipher.open(ticket_id, row.photo))
        except FaceDecryptError:
            log.error("face of ticket %s does not decrypt (TICKETHUB_FACE_KEY changed?)", ticket_id)
            return None

    # -- after the visit ---------------------------------------------------------------------
    async def purge(self) -> int:
        async with self.engine.begin() as conn:
            gone = await face_store.purge(conn, self.clock.now())
        if gone:
            log.info("deleted %d face photo(s) after the visit", len(gone))
        return len(gone)

    async def start(self, every: float) -> None:
        self._sweeper = Periodic("face-purge", every, self.purge, log)
        self._sweeper.start()

    async def stop(self) -> None:
        if self._sweeper is not None:
            await self._sweeper.stop()
            self._sweeper = None

"""What the order service answers: an HTTP-like status and a JSON body. Channels translate
it into their partner's envelope; the same outcome is stored as the first answer to a key."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hub.domain import Denial, DenialCode

#: Denials that are about the state of the world rather than the request.
_CONFLICT = {
    DenialCode.SOLD_OUT,
    DenialCode.IDEMPOTENCY_CONFLICT,
    DenialCode.INVALID_STATE,
    DenialCode.HOLD_EXPIRED,
    DenialCode.ALREADY_REDEEMED,
    DenialCode.ID_DAILY_LIMIT,
}
_STATUS = {
    DenialCode.INVALID_REQUEST: 400,
    DenialCode.UNKNOWN_ORDER: 404,
    DenialCode.UNKNOWN_TICKET: 404,
}


BUSY = "BUSY"
BUSY_RETRY_AFTER = 1  # seconds: about a dozen commits, the queue has long drained by then


def status_for(code: str) -> int:
    try:
        known = DenialCode(code)
    except ValueError:
        return 422
    if known in _CONFLICT:
        return 409
    return _STATUS.get(known, 422)


@dataclass(frozen=True, slots=True)
class Outcome:
    status: int
    body: dict[str, Any]
    replay: bool = False
    order_id: str | None = None
    calls: int = field(default=0, compare=False)  # partner calls queued (outbox wake-up)
    retry_after: int | None = field(default=None, compare=False)  # seconds, with a 503

    @property
    def ok(self) -> bool:
        return self.status < 300

    @property
    def code(self) -> str | None:
        return None if self.ok else str(self.body.get("code"))

    @classmethod
    def busy(cls, retry_after: int = BUSY_RETRY_AFTER) -> Outcome:
        """The hub shed this order (admission queue full): nothing was written, the same
        request may be sent again — HTTP ``503`` with ``Retry-After``; partner channels
        answer with their "busy, retry" code."""
        return cls(
            503,
            {"code": BUSY, "message": f"The hub is busy; retry in {retry_after} s"},
            retry_after=retry_after,
        )

    @classmethod
    def denied(cls, denial: Denial) -> Outcome:
        return cls(status_for(str(denial.code)), denial.as_dict())

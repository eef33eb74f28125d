"""The bridge's staff PINs: one check for every page that signs people in with one.

The box office and the handheld page each have a shared per-bridge PIN (the bridge has
no staff accounts: the hub has them, and the hub may be what is unreachable). A PIN is
short, so guessing it must be slow: wrong tries are limited per client address, and the
comparison takes the same time whatever the PIN.
"""

from __future__ import annotations

import hmac

from hub.sdk.web import ApiError, TokenBuckets

TRIES_PER_MINUTE = 5.0
BURST = 5


class PinCheck:
    """Checks a PIN given by a client; an empty PIN turns the page off (``off_code``,
    ``off_reason`` say so in the page's own words)."""

    def __init__(self, pin: str, *, off_code: str, off_reason: str) -> None:
        self.pin = pin
        self.off_code = off_code
        self.off_reason = off_reason
        self._tries = TokenBuckets()

    def check(self, client: str, given: str) -> None:
        """Return when ``given`` is the PIN.

        :raises ApiError: 503 no PIN set, 429 too many tries from ``client``, 401 wrong PIN.
        """
        if not self.pin:
            raise ApiError(503, self.off_code, self.off_reason)
        if not self._tries.allow(client, TRIES_PER_MINUTE / 60, BURST):
            raise ApiError(429, "TOO_MANY_TRIES", "Too many PIN attempts; wait a minute")
        if not hmac.compare_digest(given.encode(), self.pin.encode()):
            raise ApiError(401, "WRONG_PIN", "Wrong PIN")

"""Staff sessions of the handheld page: a shared per-bridge PIN, a name, a signed token.

The bridge has no staff accounts (it must work with the hub down, so it cannot ask the
hub's console who someone is). Staff give the bridge's PIN (``TICKETHUB_BRIDGE_HANDHELD_PIN``)
and their name; the name is what the log records as the checker and as the virtual
device ``handheld-<name>``. The token is HMAC-signed with a key made at start, so a
restarted bridge asks for the PIN again and nothing secret is stored on the phone but
the token itself (in the tab's sessionStorage, sent as a bearer header: no cookie, so no
cross-site request can use it). Wrong PINs are rate-limited per client address.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from hardware_bridge.pin import PinCheck
from hub.sdk.web import ApiError

SESSION_SECONDS = 12 * 3600  # one working day


@dataclass(frozen=True, slots=True)
class Staff:
    name: str
    gate: str

    @property
    def device(self) -> str:
        """The virtual gate device of this staff member's handheld."""
        return f"handheld-{self.name}"[:64]


class Sessions:
    def __init__(self, pin: str, *, timer: Callable[[], float] = time.time) -> None:
        self.timer = timer
        self._key = secrets.token_bytes(32)
        self._pin = PinCheck(
            pin,
            off_code="HANDHELD_OFF",
            off_reason="No handheld PIN set (TICKETHUB_BRIDGE_HANDHELD_PIN)",
        )

    def login(self, client: str, pin: str, staff: str, gate: str) -> str:
        """A token for ``staff`` when ``pin`` is right.

        :raises ApiError: 503 no PIN set (page off), 429 too many tries, 401 wrong PIN.
        """
        self._pin.check(client, pin)
        claims = {"s": staff, "g": gate, "x": int(self.timer()) + SESSION_SECONDS}
        body = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
        return f"{body}.{self._sign(body)}"

    def staff(self, header: str) -> Staff:
        """The staff member of an ``Authorization: Bearer`` header.

        :raises ApiError: 401 when missing, forged or expired.
        """
        scheme, _, token = header.partition(" ")
        body, _, sig = token.strip().partition(".")
        if scheme.lower() != "bearer" or not body or not hmac.compare_digest(sig, self._sign(body)):
            raise ApiError(401, "UNAUTHORIZED", "Sign in with the bridge's PIN")
        claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        if int(claims["x"]) < self.timer():
            raise ApiError(401, "UNAUTHORIZED", "Session expired; sign in again")
        return Staff(str(claims["s"]), str(claims["g"]))

    def _sign(self, body: str) -> str:
        return hmac.new(self._key, body.encode(), hashlib.sha256).hexdigest()

"""Who may post a terminal's events: HTTP Digest (RFC 7616, MD5, ``qop=auth``) on the
bridge's event route, plus the terminal's own address.

`attach` configures the terminal's HTTP host with ``httpAuthenticationMethod MD5digest``
and a user name and password of its own (`event_credentials`), so a terminal posts its
events as an ISAPI client does: unauthenticated first, then again answering our
challenge. Anyone else on the LAN who posts a "granted" event gets a 401 (no password) or
a 403 (not the terminal's address) and redeems nothing.

Nonces are stateless (a timestamp and its HMAC under a key made at start), valid for
`NONCE_SECONDS`; a (nonce, nc) pair is accepted once, so a captured request cannot be
replayed while its nonce lives. Digest authenticates the sender, not the body against an
active man in the middle: where the firmware can, use ``protocolType`` HTTPS as well.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cachetools import TTLCache

from hub.sdk import DeviceConfig, DeviceConfigError
from hub.sdk.drivers import peer_ip

REALM = "tickethub"
NONCE_SECONDS = 300
EVENT_USER = "tickethub"
_FIELD = re.compile(r'(\w+)=(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))')


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def event_credentials(device: DeviceConfig) -> tuple[str, str]:
    """(user, password) the terminal posts its events with: the options ``event_user`` /
    ``event_password`` when staff set them, else a password derived from the terminal's
    own ISAPI password and the device's id and serial — nothing to store or type, the
    same after a restart, and known to nobody who does not already know the terminal's
    admin password (who could reconfigure the terminal anyway)."""
    opts = device.options
    user = str(opts.get("event_user") or EVENT_USER)
    password = str(opts.get("event_password") or "")
    if password:
        return user, password
    admin = str(opts.get("password") or "")
    if not admin:
        raise DeviceConfigError(
            "a Hikvision terminal needs its ISAPI password (option 'password'), or an "
            "'event_password' for the events it posts"
        )
    derived = hmac.new(
        admin.encode(), f"tickethub-events\0{device.id}\0{device.serial}".encode(), "sha256"
    )
    return user, derived.hexdigest()[:24]


def address_of(device: DeviceConfig) -> str:
    """The host part of the terminal's address (``http://ip:port`` or ``ip[:port]``)."""
    rest = device.address.split("://", 1)[-1].split("/", 1)[0]
    if rest.startswith("["):  # [v6]:port
        return rest[1:].split("]", 1)[0]
    return rest.rsplit(":", 1)[0] if rest.count(":") == 1 else rest


def same_ip(peer: str | None, allowed: frozenset[str]) -> bool:
    ip = peer_ip(peer)
    return ip is not None and ip in allowed


@dataclass
class DigestGuard:
    """The server side of Digest for every terminal's event route (one key per bridge)."""

    key: bytes = b""
    seen: TTLCache[tuple[str, str], bool] | None = None

    def __post_init__(self) -> None:
        self.key = self.key or secrets.token_bytes(32)
        self.seen = TTLCache(maxsize=100_000, ttl=NONCE_SECONDS * 2)

    def _nonce(self, head: str) -> str:
        """``head`` (time in hex, "-", random) and its MAC: unique, and ours."""
        return head + hmac.new(self.key, head.encode(), "sha256").hexdigest()[:32]

    def challenge(self, *, stale: bool = False) -> str:
        nonce = self._nonce(f"{int(time.time()):x}-{secrets.token_hex(8)}")
        return (
            f'Digest realm="{REALM}", qop="auth", nonce="{nonce}", '
            f'opaque="{secrets.token_hex(8)}", algorithm=MD5' + (", stale=true" if stale else "")
        )

    def _fresh(self, nonce: str) -> bool | None:
        """True fresh, False expired (stale), None forged."""
        head, mac = nonce[:-32], nonce[-32:]
        if not hmac.compare_digest(self._nonce(head)[-32:], mac):
            return None
        try:
            stamp = int(head.split("-", 1)[0], 16)
        except ValueError:
            return None
        return 0 <= time.time() - stamp <= NONCE_SECONDS

    def check(
        self, header: str, *, method: str, uri: str, user: str, password: str
    ) -> tuple[bool, bool]:
        """(accepted, stale): stale means a right answer to an expired nonce — the client
        is told to answer a new one."""
        if not header.startswith("Digest "):
            return False, False
        f: Mapping[str, Any] = {
            m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
            for m in _FIELD.finditer(header[7:])
        }
        nonce = str(f.get("nonce") or "")
        if (
            len(nonce) < 33
            or f.get("username") != user
            or f.get("realm") != REALM
            or f.get("uri") != uri
            or str(f.get("algorithm") or "MD5").upper() != "MD5"
        ):
            return False, False
        fresh = self._fresh(nonce)
        if fresh is None:
            return False, False
        ha1 = _md5(f"{user}:{REALM}:{password}")
        ha2 = _md5(f"{method}:{uri}")
        qop = str(f.get("qop") or "")
        if qop == "auth":
            nc, cnonce = str(f.get("nc") or ""), str(f.get("cnonce") or "")
            if not nc or not cnonce:
                return False, False
            expected = _md5(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")
        elif qop:
            return False, False
        else:
            nc, expected = "", _md5(f"{ha1}:{nonce}:{ha2}")
        if not hmac.compare_digest(expected, str(f.get("response") or "")):
            return False, False
        if not fresh:
            return False, True
        assert self.seen is not None
        if (nonce, nc) in self.seen:  # a replay of a request already taken
            return False, False
        self.seen[(nonce, nc)] = True
        return True, False

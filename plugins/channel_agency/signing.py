"""HMAC request signing for the agency API: what an agency's developer implements.

Every request to the agency API carries four headers:

==================  ============================================================
``X-Agency-Key``    the access key id issued to the agency (``AK`` + 20 characters)
``X-Timestamp``     the current time as Unix seconds, decimal (``1767225600``)
``X-Nonce``         16-64 characters from ``A-Z a-z 0-9 - _ . ~``, fresh for every
                    request (a UUID or 16 random bytes in hex will do)
``X-Signature``     lowercase hex HMAC-SHA256 of the canonical request (below)
==================  ============================================================

**Canonical request** — six lines joined by ``\\n`` (no trailing newline)::

    METHOD            upper case: GET, POST, PUT, DELETE
    PATH              the URL path, percent-encoded as below, "/" kept ("/agency/v1/orders")
    QUERY             the canonical query string, "" when there is none
    TIMESTAMP         exactly the X-Timestamp header value
    NONCE             exactly the X-Nonce header value
    BODY_SHA256       lowercase hex SHA-256 of the raw request body bytes, as sent
                      (empty body: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855)

*Percent-encoding* is RFC 3986: every byte of the UTF-8 encoding other than the
unreserved characters ``A-Z a-z 0-9 - _ . ~`` becomes ``%XY`` with upper-case hex; a
space is ``%20`` (never ``+``). The path is encoded the same way except that ``/`` is
kept; encode the decoded path (``/orders/团 1`` → ``/orders/%E5%9B%A2%201``).

*Canonical query*: encode each name and each value, join each pair as ``name=value``
(``name=`` for an empty value; a repeated name gives one pair per value), sort the pairs
by encoded name and then by encoded value (byte order), join them with ``&``.

**Signature** = lowercase hex of HMAC-SHA256 with the key being the UTF-8 bytes of the
secret string exactly as issued (do not base64-decode it), over the UTF-8 bytes of the
canonical request.

Worked example (secret ``demo-secret``; compute it to test a client):

>>> canonical = canonical_request(
...     "POST", "/agency/v1/groups", {"dry_run": "1", "lang": "zh CN"},
...     "1767225600", "5f0c1e2d3b4a59687766554433221100", b'{"head_count":40}')
>>> print(canonical)
POST
/agency/v1/groups
dry_run=1&lang=zh%20CN
1767225600
5f0c1e2d3b4a59687766554433221100
59da27299031e350782347e5d64064e935f67f7003f4d2282176d2c12526301c
>>> sign("demo-secret", canonical)
'6f1675265707a35a3577b2e6429c2bf86ff12c29aadf2422cf6093ab88ed4d6e'

The same from a shell, without this code::

    body_sha=$(printf '%s' '{"head_count":40}' | sha256sum | cut -d' ' -f1)
    printf 'POST\\n/agency/v1/groups\\ndry_run=1&lang=zh%%20CN\\n1767225600\\n%s\\n%s' \\
        5f0c1e2d3b4a59687766554433221100 "$body_sha" | openssl dgst -sha256 -hmac demo-secret

**What the hub checks**, and the codes it answers with (:class:`SignatureError`):

``MISSING_SIGNATURE``  a header is missing, empty or sent twice
``BAD_NONCE``          the nonce is not 16-64 unreserved characters
``STALE_TIMESTAMP``    not Unix seconds, or more than ``window_seconds`` (300) away from
                       the hub's clock, in either direction: keep the client clock on NTP
``UNKNOWN_KEY``        no active credentials with that key id
``BAD_SIGNATURE``      the signature does not match (compared in constant time)
``REPLAYED``           that key already used that nonce within the window

Replay protection needs storage, so :func:`verify` does not do it: after a successful
``verify`` the caller records ``(key, nonce)`` in a :class:`NonceCache` for
:attr:`VerifiedRequest.replay_ttl` seconds — as long as the timestamp would still be
accepted, which is up to ``2 × window_seconds`` for a client clock running ahead — and
refuses a nonce it has already seen (:func:`refuse_replay`). :class:`MemoryNonceCache`
is right for tests and one process; several hub processes need a shared, durable store.

**Secrets** are kept in a form the hub can read back: HMAC needs the secret itself on
both sides, so unlike a password it cannot be stored as a one-way hash. Storing them
encrypted at rest (key outside the database) is future work; until then the credentials
table is as sensitive as the secrets, and secrets never appear in logs or messages.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Protocol
from urllib.parse import parse_qsl, quote, unquote

from cachetools import TLRUCache

KEY_HEADER: Final = "X-Agency-Key"
TIMESTAMP_HEADER: Final = "X-Timestamp"
NONCE_HEADER: Final = "X-Nonce"
SIGNATURE_HEADER: Final = "X-Signature"
SIGNED_HEADERS: Final = (KEY_HEADER, TIMESTAMP_HEADER, NONCE_HEADER, SIGNATURE_HEADER)

DEFAULT_WINDOW_SECONDS: Final = 300

MISSING_SIGNATURE: Final = "MISSING_SIGNATURE"
UNKNOWN_KEY: Final = "UNKNOWN_KEY"
STALE_TIMESTAMP: Final = "STALE_TIMESTAMP"
BAD_NONCE: Final = "BAD_NONCE"
BAD_SIGNATURE: Final = "BAD_SIGNATURE"
REPLAYED: Final = "REPLAYED"
#: The in-memory replay cache is full of live nonces: refusing is safer than forgetting.
REPLAY_CHECK_UNAVAILABLE: Final = "REPLAY_CHECK_UNAVAILABLE"

_NONCE = re.compile(r"[A-Za-z0-9._~-]{16,64}")
_TIMESTAMP = re.compile(r"[0-9]{1,16}")
_SIGNATURE = re.compile(r"[0-9a-fA-F]{64}")
_KEY_ID = re.compile(r"[\x21-\x7e]{1,64}")
_BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

#: A query as the caller has it: a mapping (aiohttp's ``request.query`` multidict works
#: and keeps repeated names), a list of pairs, a raw query string, or None.
Query = Mapping[str, str] | Sequence[tuple[str, str]] | str | None


class SignatureError(Exception):
    """A refused request. ``code`` is one of the codes in the module docstring;
    ``message`` is safe to return to the agency. ``canonical`` (for ``BAD_SIGNATURE``)
    is the canonical request the hub computed — worth returning too, as AWS does, since
    comparing it with the client's is how a developer finds a signing bug; it holds
    nothing the client did not send."""

    def __init__(self, code: str, message: str, *, canonical: str | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.canonical = canonical


@dataclass(frozen=True, slots=True)
class VerifiedRequest:
    """Who signed the request, and what the replay check needs."""

    key_id: str
    timestamp: int
    nonce: str
    #: Seconds this (key, nonce) must be remembered: until the timestamp leaves the window.
    replay_ttl: float


def _encode(text: str, safe: str = "") -> str:
    # quote() keeps A-Z a-z 0-9 - _ . ~ and uses upper-case hex: exactly RFC 3986.
    return quote(text, safe=safe, encoding="utf-8", errors="strict")


def canonical_path(path: str) -> str:
    """Percent-encoded path. Decoding first makes an already-encoded path and the decoded
    one (what aiohttp's ``request.path`` gives the hub) canonicalize the same way."""
    return _encode(unquote(path or "/"), safe="/")


def _pairs(query: Query) -> list[tuple[str, str]]:
    if query is None:
        return []
    if isinstance(query, str):
        return parse_qsl(query.lstrip("?"), keep_blank_values=True)
    if isinstance(query, Mapping):
        return [(str(k), str(v)) for k, v in query.items()]
    return [(str(k), str(v)) for k, v in query]


def canonical_query(query: Query) -> str:
    """Sorted ``name=value`` pairs, encoded, joined with ``&``: independent of the order
    the client's HTTP library happened to put them in."""
    encoded = sorted((_encode(k), _encode(v)) for k, v in _pairs(query))
    return "&".join(f"{k}={v}" for k, v in encoded)


def canonical_request(
    method: str, path: str, query: Query, timestamp: str, nonce: str, body: bytes
) -> str:
    """The string that is signed; see the module docstring."""
    return "\n".join(
        (
            method.upper(),
            canonical_path(path),
            canonical_query(query),
            timestamp,
            nonce,
            hashlib.sha256(body).hexdigest(),
        )
    )


def sign(secret: str, canonical: str) -> str:
    """Lowercase hex HMAC-SHA256 of ``canonical`` keyed by the secret's UTF-8 bytes."""
    return hmac.new(secret.encode(), canonical.encode(), hashlib.sha256).hexdigest()


def new_nonce() -> str:
    return secrets.token_hex(16)


def signed_headers(
    key_id: str,
    secret: str,
    method: str,
    path: str,
    query: Query,
    body: bytes,
    *,
    now: int,
    nonce: str | None = None,
) -> dict[str, str]:
    """The four headers for one request: the client side (sandbox agency, tests)."""
    timestamp = str(int(now))
    nonce = nonce or new_nonce()
    canonical = canonical_request(method, path, query, timestamp, nonce, body)
    return {
        KEY_HEADER: key_id,
        TIMESTAMP_HEADER: timestamp,
        NONCE_HEADER: nonce,
        SIGNATURE_HEADER: sign(secret, canonical),
    }


def key_id_of(headers: Mapping[str, str]) -> str | None:
    """The key id a request claims, before verifying it: for loading its secret
    (``secret = await store.secret(key_id_of(h))``, then ``secret_for=lambda _: secret``)."""
    found = _signature_headers(headers, strict=False)
    return found.get(KEY_HEADER.lower())


def _signature_headers(headers: Mapping[str, str], *, strict: bool = True) -> dict[str, str]:
    wanted = {h.lower() for h in SIGNED_HEADERS}
    found: dict[str, str] = {}
    for name, value in headers.items():  # multidicts yield every copy of a header
        lower = name.lower()
        if lower not in wanted:
            continue
        if strict and lower in found:
            raise SignatureError(MISSING_SIGNATURE, f"header {name} sent more than once")
        found[lower] = value.strip()
    return found


def verify(
    headers: Mapping[str, str],
    method: str,
    path: str,
    query: Query,
    body: bytes,
    *,
    secret_for: Callable[[str], str | None],
    now: int,
    window_seconds: int = DEFAULT_WINDOW_SECONDS,
) -> VerifiedRequest:
    """Check a request's signature; raise :class:`SignatureError` if it fails.

    Cheap checks come first, so junk never costs a key lookup. ``secret_for`` returns the
    active secret of a key id, or None (unknown or suspended key). This does NOT refuse
    replays: pass the result to :func:`refuse_replay`. Headers are matched without regard
    to case, as HTTP requires.
    """
    found = _signature_headers(headers)
    for header in SIGNED_HEADERS:
        if not found.get(header.lower()):
            raise SignatureError(MISSING_SIGNATURE, f"missing header {header}")
    key_id = found[KEY_HEADER.lower()]
    stamp = found[TIMESTAMP_HEADER.lower()]
    nonce = found[NONCE_HEADER.lower()]
    signature = found[SIGNATURE_HEADER.lower()]

    if not _NONCE.fullmatch(nonce):
        raise SignatureError(BAD_NONCE, "X-Nonce must be 16-64 characters of A-Z a-z 0-9 - _ . ~")
    if not _TIMESTAMP.fullmatch(stamp):
        raise SignatureError(STALE_TIMESTAMP, "X-Timestamp must be Unix time in seconds")
    timestamp = int(stamp)
    skew = timestamp - now
    if abs(skew) > window_seconds:
        hint = " (it looks like milliseconds)" if timestamp > now * 100 else ""
        raise SignatureError(
            STALE_TIMESTAMP,
            f"X-Timestamp is {abs(skew)} s {'ahead of' if skew > 0 else 'behind'} the hub's "
            f"clock; allowed ±{window_seconds} s{hint}",
        )
    secret = secret_for(key_id) if _KEY_ID.fullmatch(key_id) else None
    if not secret:
        raise SignatureError(UNKNOWN_KEY, "unknown or inactive access key")
    canonical = canonical_request(method, path, query, stamp, nonce, body)
    expected = sign(secret, canonical)
    # Shape first: compare_digest refuses non-ASCII str, and the format is not secret.
    given = signature.lower() if _SIGNATURE.fullmatch(signature) else ""
    if not hmac.compare_digest(expected, given):
        raise SignatureError(
            BAD_SIGNATURE, "signature does not match the request", canonical=canonical
        )
    return VerifiedRequest(
        key_id=key_id, timestamp=timestamp, nonce=nonce, replay_ttl=float(skew + window_seconds + 1)
    )


# --- replay protection --------------------------------------------------------------------


class NonceCache(Protocol):
    """Remembers (key, nonce) pairs for a while. The hub's implementation is shared by all
    its processes (a table with a unique key and an expiry); the check and the insert
    must be one atomic step, or two copies of a request racing each other both pass."""

    async def seen(self, key: str, nonce: str, ttl: float) -> bool:
        """Record (key, nonce) for ``ttl`` seconds; True if it was already recorded."""
        ...


class MemoryNonceCache:
    """In-process :class:`NonceCache` for tests and a single hub process.

    Bounded: it holds at most ``maxsize`` live nonces. When full of live ones it refuses
    (``REPLAY_CHECK_UNAVAILABLE``) rather than evict: an evicted nonce could be replayed.
    Size it above the peak signed-request rate × 2 × window. cachetools' TLRUCache is the
    TTLCache variant with a time-to-live per item, which the per-request ``ttl`` needs.
    """

    def __init__(self, maxsize: int = 100_000, *, timer: Callable[[], float] = time.monotonic):
        self._maxsize = maxsize
        self._cache: TLRUCache[tuple[str, str], float] = TLRUCache(
            maxsize=maxsize, ttu=lambda _key, ttl, now: now + ttl, timer=timer
        )

    async def seen(self, key: str, nonce: str, ttl: float) -> bool:
        # No await inside: atomic with respect to other tasks on this event loop.
        if (key, nonce) in self._cache:
            return True
        if len(self._cache) >= self._maxsize:
            self._cache.expire()
            if len(self._cache) >= self._maxsize:
                raise SignatureError(
                    REPLAY_CHECK_UNAVAILABLE, "too many signed requests; retry shortly"
                )
        self._cache[(key, nonce)] = max(ttl, 0.0)
        return False

    def __len__(self) -> int:
        return len(self._cache)


async def refuse_replay(cache: NonceCache, request: VerifiedRequest) -> None:
    """Raise ``REPLAYED`` if this key used this nonce within the window; else record it."""
    if await cache.seen(request.key_id, request.nonce, request.replay_ttl):
        raise SignatureError(REPLAYED, "this nonce was already used; sign each request anew")


# --- credentials --------------------------------------------------------------------------


def new_credentials() -> tuple[str, str]:
    """A fresh (key id, secret): ``AK`` + 20 base32 characters (100 random bits; an
    identifier, safe to log) and 32 random bytes as unpadded URL-safe base64 (43
    characters; shown to the agency once, never logged)."""
    key_id = "AK" + "".join(secrets.choice(_BASE32) for _ in range(20))
    return key_id, secrets.token_urlsafe(32)

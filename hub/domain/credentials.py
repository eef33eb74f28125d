"""Signed QR credentials, verifiable offline with nothing but the venue's public key.

A ticket sold after the bridge's last sync must still open the gate when the internet is
down, so the QR code carries the facts the gate needs (which ticket, which product, when,
how many entries), signed with the venue's Ed25519 key. The layout is binary and compact
so the code stays small enough for cheap scanners (≤ 160 characters)::

    "TH1." + base64url_nopad(
        version:u8 | key_id:u8 | ticket_id:8 bytes | valid_from:u32 | valid_until:u32 |
        entries:u8 | len(product_id):u8 | product_id:utf-8 | signature:64 bytes)

Times are minutes since the Unix epoch (UTC), big-endian. The signature covers every byte
before it. Revocation (refunds) cannot be in a credential; it travels as a
`RevocationList` the bridge checks next to the signature.
"""

from __future__ import annotations

import base64
import binascii
import re
import struct
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from hub.domain.errors import DenialCode

PREFIX = "TH1."
VERSION = 1
SIGNATURE_BYTES = 64
MAX_PRODUCT_ID_BYTES = 32
MAX_TEXT_CHARS = 160

_HEAD = struct.Struct(">BB8sIIBB")  # version, key id, ticket id, from, until, entries, pid len
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_MINUTES = 0xFFFFFFFF
_TICKET_ID = re.compile(r"[0-9a-f]{16}")
_B64URL = re.compile(r"[A-Za-z0-9_-]*")


class CredentialError(Exception):
    """A scanned credential that must not open a gate; the message says what was wrong."""

    code = DenialCode.BAD_CREDENTIAL


def _minutes(value: datetime, field: str) -> int:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{field} must be timezone-aware")
    if value.second or value.microsecond:
        raise ValueError(f"{field} must be a whole minute")
    minutes = (value - _EPOCH) // timedelta(minutes=1)
    if not 0 <= minutes <= _MAX_MINUTES:
        raise ValueError(f"{field} is outside the representable range")
    return minutes


@dataclass(frozen=True, slots=True)
class CredentialClaims:
    """What a credential asserts; validated on construction so a signer cannot emit one
    the layout cannot hold."""

    ticket_id: str  # the hub's ticket id: 16 lowercase hex chars (8 bytes)
    product_id: str  # ≤ 32 UTF-8 bytes
    valid_from: datetime  # aware UTC, minute precision
    valid_until: datetime  # aware UTC, minute precision
    entries_allowed: int  # 0..255
    key_id: int = 1  # 0..255: which venue key signed it (key rotation)

    def __post_init__(self) -> None:
        if not isinstance(self.ticket_id, str) or not _TICKET_ID.fullmatch(self.ticket_id):
            raise ValueError("ticket_id must be 16 lowercase hex characters")
        if not isinstance(self.product_id, str) or not self.product_id:
            raise ValueError("product_id must be a non-empty string")
        if len(self.product_id.encode()) > MAX_PRODUCT_ID_BYTES:
            raise ValueError(f"product_id must be at most {MAX_PRODUCT_ID_BYTES} UTF-8 bytes")
        start = _minutes(self.valid_from, "valid_from")
        end = _minutes(self.valid_until, "valid_until")
        if end <= start:
            raise ValueError("valid_until must be after valid_from")
        for name in ("entries_allowed", "key_id"):
            value = getattr(self, name)
            if type(value) is not int or not 0 <= value <= 255:
                raise ValueError(f"{name} must be an integer 0..255")
        # Normalise to UTC so claims compare and print the same before and after a trip.
        object.__setattr__(self, "valid_from", self.valid_from.astimezone(UTC))
        object.__setattr__(self, "valid_until", self.valid_until.astimezone(UTC))


def generate_keypair() -> tuple[str, str]:
    """A new venue key pair as (private, public): raw 32-byte Ed25519 keys in base64."""
    private = Ed25519PrivateKey.generate()
    raw_private = private.private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )
    raw_public = private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return base64.b64encode(raw_private).decode(), base64.b64encode(raw_public).decode()


def _raw_key(text: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, TypeError, ValueError):
        raise ValueError(f"{what} is not base64") from None
    if len(raw) != 32:
        raise ValueError(f"{what} must be a raw 32-byte Ed25519 key")
    return raw


def _check_key_id(key_id: int) -> int:
    if type(key_id) is not int or not 0 <= key_id <= 255:
        raise ValueError("key_id must be an integer 0..255")
    return key_id


class CredentialSigner:
    """Signs credentials with one venue key (parsed once: signing is one Ed25519 op)."""

    def __init__(self, private_key_b64: str, key_id: int = 1) -> None:
        self.key_id = _check_key_id(key_id)
        self._key = Ed25519PrivateKey.from_private_bytes(_raw_key(private_key_b64, "private key"))

    def sign(self, claims: CredentialClaims) -> str:
        if claims.key_id != self.key_id:
            raise ValueError(
                f"claims name key {claims.key_id} but this signer holds key {self.key_id}"
            )
        product = claims.product_id.encode()
        body = (
            _HEAD.pack(
                VERSION,
                claims.key_id,
                bytes.fromhex(claims.ticket_id),
                _minutes(claims.valid_from, "valid_from"),
                _minutes(claims.valid_until, "valid_until"),
                claims.entries_allowed,
                len(product),
            )
            + product
        )
        blob = body + self._key.sign(body)
        return PREFIX + base64.urlsafe_b64encode(blob).rstrip(b"=").decode("ascii")


def _decode_text(text: Any) -> bytes:
    if not isinstance(text, str):
        raise CredentialError("credential is not text")
    if not text.startswith(PREFIX):
        raise CredentialError("not a tickethub credential (wrong prefix)")
    if len(text) > MAX_TEXT_CHARS:
        raise CredentialError("credential is too long")
    payload = text[len(PREFIX) :]
    if not payload.isascii() or not _B64URL.fullmatch(payload):
        raise CredentialError("credential is not base64url")
    if len(payload) % 4 == 1:
        raise CredentialError("credential is not base64url (bad length)")
    blob = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    # Reject non-canonical spellings (unused low bits set): one credential, one text.
    if base64.urlsafe_b64encode(blob).rstrip(b"=").decode("ascii") != payload:
        raise CredentialError("credential is not canonical base64url")
    return blob


def key_id_of(text: str) -> int:
    """Which key claims to have signed `text` (NOT verified: only to pick the key to
    verify it with); raises `CredentialError`."""
    blob = _decode_text(text)
    if len(blob) < _HEAD.size:
        raise CredentialError("credential is truncated")
    return int(_HEAD.unpack_from(blob)[1])


class CredentialVerifier:
    """Verifies credentials offline against the venue's public keys, by key id.

    It checks authenticity only; whether the ticket may enter now (validity, entries,
    revocation) is for the rule engine and the `RevocationList`.

    `windows` limits keys to a period: a bridge's delegated key (`hub.domain.delegation`)
    signs only while its certificate is valid, so a credential it signed is refused
    when `verify` is not told the time or the time is outside that period.
    """

    def __init__(
        self,
        public_keys: Mapping[int, str],
        windows: Mapping[int, tuple[datetime, datetime]] | None = None,
    ) -> None:
        self._keys: dict[int, Ed25519PublicKey] = {
            _check_key_id(key_id): Ed25519PublicKey.from_public_bytes(
                _raw_key(text, f"public key {key_id}")
            )
            for key_id, text in public_keys.items()
        }
        self._windows = dict(windows or {})

    @property
    def key_ids(self) -> frozenset[int]:
        return frozenset(self._keys)

    def verify(self, text: str, at: datetime | None = None) -> CredentialClaims:
        """The signed claims of `text`; raises `CredentialError` and nothing else.
        `at` (the verifier's clock) is needed for keys valid only for a period."""
        try:
            claims = self._verify(text)
        except CredentialError:
            raise
        except Exception as exc:  # defence in depth: a scanner must never crash the gate
            raise CredentialError(f"unreadable credential ({type(exc).__name__})") from None
        window = self._windows.get(claims.key_id)
        if window is not None:
            if at is None:
                raise CredentialError(f"key {claims.key_id} is delegated: time unknown")
            if not window[0] <= at < window[1]:
                raise CredentialError(f"credential signed with expired key {claims.key_id}")
        return claims

    def _verify(self, text: str) -> CredentialClaims:
        blob = _decode_text(text)
        if len(blob) < _HEAD.size + 1 + SIGNATURE_BYTES:
            raise CredentialError("credential is truncated")
        version, key_id, raw_id, start, end, entries, pid_len = _HEAD.unpack_from(blob)
        if version != VERSION:
            raise CredentialError(f"unsupported credential version {version}")
        if len(blob) != _HEAD.size + pid_len + SIGNATURE_BYTES:
            raise CredentialError("credential has the wrong length")
        key = self._keys.get(key_id)
        if key is None:
            raise CredentialError(f"credential signed with unknown key {key_id}")
        body, signature = blob[:-SIGNATURE_BYTES], blob[-SIGNATURE_BYTES:]
        try:
            key.verify(signature, body)
        except InvalidSignature:
            raise CredentialError("credential signature is invalid") from None
        try:
            return CredentialClaims(
                ticket_id=raw_id.hex(),
                product_id=body[_HEAD.size :].decode("utf-8"),
                valid_from=_EPOCH + timedelta(minutes=start),
                valid_until=_EPOCH + timedelta(minutes=end),
                entries_allowed=entries,
                key_id=key_id,
            )
        except ValueError as exc:  # signed but nonsensical: never issued by our signer
            raise CredentialError(f"credential content is invalid: {exc}") from None


class RevocationList:
    """Ticket ids that must not enter any more (refunded, cancelled), with a version.

    The version grows with every addition, so a bridge can ask the hub for "changes since
    version N" and tell whether its copy is current.
    """

    __slots__ = ("_ids", "_version")

    def __init__(self, ticket_ids: Iterable[str] = (), version: int = 0) -> None:
        if type(version) is not int or version < 0:
            raise ValueError("version must be a non-negative integer")
        self._ids: set[str] = set()
        for ticket_id in ticket_ids:
            self._ids.add(_valid_ticket_id(ticket_id))
        self._version = version

    @property
    def version(self) -> int:
        return self._version

    def add(self, ticket_id: str) -> bool:
        """Revoke `ticket_id`; True (and a new version) when it was not revoked yet."""
        ticket_id = _valid_ticket_id(ticket_id)
        if ticket_id in self._ids:
            return False
        self._ids.add(ticket_id)
        self._version += 1
        return True

    def __contains__(self, ticket_id: object) -> bool:
        return ticket_id in self._ids

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._ids))

    def __len__(self) -> int:
        return len(self._ids)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RevocationList):
            return NotImplemented
        return self._version == other._version and self._ids == other._ids

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"RevocationList(version={self._version}, size={len(self._ids)})"

    def as_dict(self) -> dict[str, Any]:
        return {"version": self._version, "ticket_ids": sorted(self._ids)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RevocationList:
        if not isinstance(data, Mapping):
            raise ValueError("a revocation list is a mapping with version and ticket_ids")
        ids = data.get("ticket_ids", [])
        if isinstance(ids, str) or not isinstance(ids, Iterable):
            raise ValueError("ticket_ids must be a list of ticket ids")
        return cls(ids, data.get("version", 0))


def _valid_ticket_id(ticket_id: Any) -> str:
    if not isinstance(ticket_id, str) or not _TICKET_ID.fullmatch(ticket_id):
        raise ValueError(f"not a ticket id (16 lowercase hex): {ticket_id!r}")
    return ticket_id

"""Sealed fields: personal data encrypted at rest (AES-GCM), and keyed hashes to find it.

A database dump, a backup or a replica read by the wrong person must hold no usable face
photo and no ID number. Storage seals such a value before it writes the row and opens it
when it reads the row back; the domain only ever sees clear values, in memory.

- `SealedField`: AES-GCM with a random 12-byte nonce; the blob is ``0x01 | nonce |
  ciphertext+tag``. Each value is bound to its row by associated data (a ticket id, an
  order id and visitor index): a ciphertext copied onto another row does not open.
- `id_hash`: HMAC-SHA256 of an ID number under ``TICKETHUB_ID_HASH_SECRET``. Rows are
  looked up by it (AES-GCM's random nonce makes ciphertexts unsearchable), and the per-ID
  counters are keyed by the same hash.
- `IdNumbers`: both, for ID numbers (``TICKETHUB_ID_NUMBER_KEY``).

Keys come from settings as base64 of 16, 24 or 32 bytes; an empty setting derives a key
from the ID-hash secret with HKDF (development only: `hub.devmode` refuses it outside
``TICKETHUB_DEV=1``). Revision 0002 of the migrations seals the rows written in clear
before it, with the same functions.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

FORMAT = b"\x01"  # format byte: 1 = AES-GCM, 12-byte nonce, then ciphertext + tag
NONCE = 12
ID_NUMBERS_INFO = b"tickethub id numbers v1"


class SealKeyError(ValueError):
    """A configured key is unusable (the hub refuses to start rather than store data it
    could never read back)."""


class SealOpenError(ValueError):
    """A sealed value does not open with this key (another key, another row, tampering)."""


def key_from_setting(configured: str, *, setting: str, id_hash_secret: str, info: bytes) -> bytes:
    """The AES key of a base64 setting, or (empty setting) one derived from the ID-hash
    secret for `info`, the purpose (so two purposes never share a key).

    :param setting: the environment variable's name, for the error message.
    :raises SealKeyError: not base64, or not 16/24/32 bytes.
    """
    if configured:
        try:
            key = base64.b64decode(configured, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise SealKeyError(f"{setting} is not base64") from exc
        if len(key) not in (16, 24, 32):
            raise SealKeyError(f"{setting} decodes to {len(key)} bytes; AES needs 16, 24 or 32")
        return key
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(
        id_hash_secret.encode()
    )


class SealedField:
    """AES-GCM sealing of one kind of value, each bound to its row (associated data)."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def seal(self, row: str, data: bytes) -> bytes:
        nonce = os.urandom(NONCE)
        return FORMAT + nonce + self._aead.encrypt(nonce, data, row.encode())

    def open(self, row: str, blob: bytes) -> bytes:
        """:raises SealOpenError: unknown format, another key or row, or tampered."""
        if not blob.startswith(FORMAT) or len(blob) < 1 + NONCE + 16:
            raise SealOpenError("unknown sealed format")
        nonce, sealed = blob[1 : 1 + NONCE], blob[1 + NONCE :]
        try:
            return self._aead.decrypt(nonce, sealed, row.encode())
        except InvalidTag as exc:
            raise SealOpenError("sealed value does not decrypt with this key") from exc


def id_hash(secret: str, id_number: str) -> str:
    """The keyed hash of an ID number (40 hex digits; letters compare case-blind, as the
    check digit ``X`` may come either way)."""
    return hmac.new(secret.encode(), id_number.upper().encode(), hashlib.sha256).hexdigest()[:40]


class IdNumbers:
    """ID numbers at rest: sealed for reading back, hashed for finding and counting."""

    def __init__(self, key: bytes, hash_secret: str) -> None:
        self._field = SealedField(key)
        self.hash_secret = hash_secret

    @classmethod
    def from_settings(cls, id_number_key: str, id_hash_secret: str) -> IdNumbers:
        """:raises SealKeyError: ``TICKETHUB_ID_NUMBER_KEY`` is unusable."""
        key = key_from_setting(
            id_number_key,
            setting="TICKETHUB_ID_NUMBER_KEY",
            id_hash_secret=id_hash_secret,
            info=ID_NUMBERS_INFO,
        )
        return cls(key, id_hash_secret)

    def hash(self, number: str | None) -> str | None:
        return id_hash(self.hash_secret, number) if number else None

    def seal(self, row: str, number: str | None) -> bytes | None:
        return self._field.seal(row, number.encode()) if number else None

    def open(self, row: str, blob: bytes | None) -> str | None:
        """:raises SealOpenError: the value was sealed with another key or for another row."""
        return self._field.open(row, bytes(blob)).decode() if blob else None


def visitor_row_label(order_id: str, idx: int) -> str:
    """Associated data of a visitor's ID number (``order_visitor``)."""
    return f"order_visitor/{order_id}/{idx}"


def ticket_row_label(ticket_id: str) -> str:
    """Associated data of a ticket holder's ID number (``ticket``)."""
    return f"ticket/{ticket_id}"

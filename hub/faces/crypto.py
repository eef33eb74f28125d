"""Face photos are encrypted at rest (AES-256-GCM), so a database dump, a backup or a
replica read by the wrong person holds no usable picture.

The key is ``TICKETHUB_FACE_KEY`` (base64 of 16, 24 or 32 bytes). Left empty, a key is
derived from ``TICKETHUB_ID_HASH_SECRET`` with HKDF — fine for the embedded default, but a
deployment sets its own key and keeps it out of the database. Each photo is bound to its
ticket id as associated data: a ciphertext copied onto another ticket's row does not
decrypt.
"""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

FORMAT = b"\x01"  # format byte: 1 = AES-GCM, 12-byte nonce, then ciphertext + tag
NONCE = 12


class FaceKeyError(ValueError):
    """The configured key is unusable (the hub refuses to start rather than store
    photos it could never read back)."""


class FaceDecryptError(ValueError):
    """A stored photo does not decrypt with this key (another key, or a tampered row)."""


def key_from_settings(face_key: str, id_hash_secret: str) -> bytes:
    if face_key:
        try:
            key = base64.b64decode(face_key, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise FaceKeyError("TICKETHUB_FACE_KEY is not base64") from exc
        if len(key) not in (16, 24, 32):
            raise FaceKeyError(
                f"TICKETHUB_FACE_KEY decodes to {len(key)} bytes; AES needs 16, 24 or 32"
            )
        return key
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"tickethub face photos v1"
    ).derive(id_hash_secret.encode())


class FaceCipher:
    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def seal(self, ticket_id: str, jpeg: bytes) -> bytes:
        nonce = os.urandom(NONCE)
        return FORMAT + nonce + self._aead.encrypt(nonce, jpeg, ticket_id.encode())

    def open(self, ticket_id: str, blob: bytes) -> bytes:
        if not blob.startswith(FORMAT) or len(blob) < 1 + NONCE + 16:
            raise FaceDecryptError("unknown face photo format")
        nonce, sealed = blob[1 : 1 + NONCE], blob[1 + NONCE :]
        try:
            return self._aead.decrypt(nonce, sealed, ticket_id.encode())
        except InvalidTag as exc:
            raise FaceDecryptError("face photo does not decrypt with this key") from exc

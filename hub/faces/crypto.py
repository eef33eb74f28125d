"""Face photos are encrypted at rest (AES-GCM), so a database dump, a backup or a replica
read by the wrong person holds no usable picture.

The key is ``TICKETHUB_FACE_KEY`` (base64 of 16, 24 or 32 bytes). Left empty, a key is
derived from ``TICKETHUB_ID_HASH_SECRET`` with HKDF — development only (`hub.devmode`
refuses it outside ``TICKETHUB_DEV=1``). Each photo is bound to its ticket id as
associated data: a ciphertext copied onto another ticket's row does not decrypt. The
sealing itself is `hub.storage.sealed`, shared with the ID numbers.
"""

from __future__ import annotations

from hub.storage.sealed import SealedField, SealKeyError, SealOpenError, key_from_setting

FACE_INFO = b"tickethub face photos v1"


class FaceKeyError(SealKeyError):
    """The configured key is unusable (the hub refuses to start rather than store
    photos it could never read back)."""


class FaceDecryptError(SealOpenError):
    """A stored photo does not decrypt with this key (another key, or a tampered row)."""


def key_from_settings(face_key: str, id_hash_secret: str) -> bytes:
    try:
        return key_from_setting(
            face_key, setting="TICKETHUB_FACE_KEY", id_hash_secret=id_hash_secret, info=FACE_INFO
        )
    except SealKeyError as exc:
        raise FaceKeyError(str(exc)) from exc


class FaceCipher:
    def __init__(self, key: bytes) -> None:
        self._field = SealedField(key)

    def seal(self, ticket_id: str, jpeg: bytes) -> bytes:
        return self._field.seal(ticket_id, jpeg)

    def open(self, ticket_id: str, blob: bytes) -> bytes:
        try:
            return self._field.open(ticket_id, blob)
        except SealOpenError as exc:
            raise FaceDecryptError(f"face photo: {exc}") from exc

"""Visitors' face photos: enrollment, encryption at rest, the bridge's read, deletion.

See `hub.faces.service` for the rules and README "Face enrollment" for the API."""

from __future__ import annotations

from hub.faces.crypto import FaceCipher, FaceKeyError, key_from_settings
from hub.faces.service import FacePhoto, FaceService, forget_revoked
from hub.sdk.faces import FaceError
from hub.sdk.jpeg import MAX_BYTES, JpegError, JpegInfo, inspect

__all__ = [
    "MAX_BYTES",
    "FaceCipher",
    "FaceError",
    "FaceKeyError",
    "FacePhoto",
    "FaceService",
    "JpegError",
    "JpegInfo",
    "forget_revoked",
    "inspect",
    "key_from_settings",
]

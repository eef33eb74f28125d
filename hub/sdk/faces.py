"""Taking a visitor's face photo over HTTP, for any channel that offers enrolment (the
admin API and the WeChat mini-program use the same helpers, so both refuse a photo in the
same words).

`FaceError` is how the face service (`ChannelContext.faces`) refuses a photo; a route
turns it into its answer with `face_error`.
"""

from __future__ import annotations

from typing import NoReturn

from aiohttp import web

from hub.domain.digits import ascii_int
from hub.sdk.web.errors import ApiError
from hub.sdk.web.routing import raw_body

CHUNK = 64 * 1024


class FaceError(Exception):
    """A refusal in the API's words: HTTP status, stable code, a message for people."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


PHOTO = raw_body(
    "image/jpeg",
    description="the JPEG itself (SOI … EOI, 64-4096 px a side), at most "
    "TICKETHUB_FACE_MAX_BYTES (200 KiB)",
)


def face_error(exc: FaceError) -> NoReturn:
    raise ApiError(exc.status, exc.code, exc.message) from None


def visitor_index(request: web.Request) -> int:
    index = ascii_int(request.match_info["index"], 4)
    if index is None:
        raise ApiError(400, "INVALID_REQUEST", "visitor index: a number from 0")
    return index


async def read_photo(request: web.Request, max_bytes: int) -> bytes:
    """The body, refused as soon as it passes `max_bytes` (before reading it all)."""
    if request.content_type.startswith("multipart/"):
        raise ApiError(
            415, "UNSUPPORTED_MEDIA_TYPE", "Send the JPEG itself as the body (image/jpeg)"
        )
    too_large = ApiError(
        413, "FACE_TOO_LARGE", f"The photo is larger than {max_bytes} bytes; send a smaller one"
    )
    if request.content_length is not None and request.content_length > max_bytes:
        raise too_large
    data = bytearray()
    async for chunk in request.content.iter_chunked(CHUNK):
        data += chunk
        if len(data) > max_bytes:
            raise too_large
    if not data:
        raise ApiError(400, "NOT_A_JPEG", "The body is empty; send the JPEG photo")
    return bytes(data)


__all__ = ["CHUNK", "PHOTO", "FaceError", "face_error", "read_photo", "visitor_index"]

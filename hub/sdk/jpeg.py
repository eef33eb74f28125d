"""Is this upload a JPEG a face terminal can take, and how large is it?

Read from the markers, without decoding the picture (no imaging library: the hub must not
grow a heavy dependency for a header): the file starts with SOI and ends with EOI, every
segment before the scan has a length that stays inside the file, and a start-of-frame
segment gives the picture's size. That is what terminals check before they try to find a
face in it; whether there IS a face is for the terminal to say.
"""

from __future__ import annotations

from dataclasses import dataclass

SOI = b"\xff\xd8"
EOI = b"\xff\xd9"
MAX_BYTES = 200 * 1024  # Hikvision FDLib takes pictures up to 200 KB
MIN_SIDE = 64  # below this a terminal cannot find the face landmarks
MAX_SIDE = 4096

# Start-of-frame markers: C0-CF except DHT (C4), JPG (C8) and DAC (CC).
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_PROGRESSIVE = {0xC2, 0xC6, 0xCA, 0xCE}
_STANDALONE = {0x01, *range(0xD0, 0xD8)}  # TEM, RST0-7: no length field
SOS = 0xDA


class JpegError(ValueError):
    """Why an upload is not an acceptable face photo. `code` is the API's word for it."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class JpegInfo:
    width: int
    height: int
    components: int  # 1 grey, 3 colour
    progressive: bool
    size: int


def inspect(data: bytes, *, max_bytes: int = MAX_BYTES) -> JpegInfo:
    """Check `data` is a whole JPEG within the limits and read its size.

    :raises JpegError: ``FACE_TOO_LARGE`` over `max_bytes`; ``NOT_A_JPEG`` when the
        markers are wrong or a segment runs past the end; ``FACE_TOO_SMALL`` /
        ``FACE_TOO_LARGE`` for a picture outside the sides a terminal accepts.
    """
    if len(data) > max_bytes:
        raise JpegError(
            "FACE_TOO_LARGE", f"the photo is {len(data)} bytes; at most {max_bytes} are accepted"
        )
    if len(data) < 4 or not data.startswith(SOI):
        raise JpegError("NOT_A_JPEG", "not a JPEG (it does not start with the SOI marker)")
    if not data.endswith(EOI):
        raise JpegError("NOT_A_JPEG", "not a whole JPEG (it does not end with the EOI marker)")
    frame = _frame(data)
    precision, height, width, components = frame[1], frame[2], frame[3], frame[4]
    if precision not in (8, 12) or components not in (1, 3) or height == 0 or width == 0:
        raise JpegError("NOT_A_JPEG", "the JPEG frame header is not one a terminal can read")
    if min(width, height) < MIN_SIDE:
        raise JpegError(
            "FACE_TOO_SMALL", f"the photo is {width}x{height}; at least {MIN_SIDE} px a side"
        )
    if max(width, height) > MAX_SIDE:
        raise JpegError(
            "FACE_TOO_LARGE", f"the photo is {width}x{height}; at most {MAX_SIDE} px a side"
        )
    return JpegInfo(width, height, components, frame[0] in _PROGRESSIVE, len(data))


def _frame(data: bytes) -> tuple[int, int, int, int, int]:
    """(SOF marker, precision, height, width, components) of the first frame header."""
    pos, end = 2, len(data) - 2
    while pos < end:
        if data[pos] != 0xFF:
            raise JpegError("NOT_A_JPEG", f"not a JPEG (no marker at byte {pos})")
        while pos < end and data[pos] == 0xFF:  # fill bytes may precede a marker
            pos += 1
        if pos >= end:
            break
        marker = data[pos]
        pos += 1
        if marker in _STANDALONE:
            continue
        if marker in (0xD8, 0xD9) or marker == 0x00:
            break
        if pos + 2 > end:
            break
        length = int.from_bytes(data[pos : pos + 2], "big")
        if length < 2 or pos + length > end:
            raise JpegError("NOT_A_JPEG", "not a JPEG (a segment runs past the end)")
        if marker in _SOF:
            if length < 8:
                break
            body = data[pos + 2 : pos + length]
            return (
                marker,
                body[0],
                int.from_bytes(body[1:3], "big"),
                int.from_bytes(body[3:5], "big"),
                body[5],
            )
        if marker == SOS:
            break  # the scan began without a frame header
        pos += length
    raise JpegError("NOT_A_JPEG", "not a JPEG (no frame header with the picture's size)")

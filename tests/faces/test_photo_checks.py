"""The hub's JPEG header reader, the at-rest cipher and the log mask, on their own."""

from __future__ import annotations

import base64
import struct

import pytest

from hub.faces import FaceCipher, FaceKeyError, key_from_settings
from hub.logmask import mask_text
from hub.sdk.jpeg import JpegError, inspect
from tests.faces.jpegs import face_jpeg


@pytest.mark.parametrize(("width", "height"), [(64, 64), (160, 200), (333, 517), (1024, 768)])
def test_the_size_is_read_from_the_frame_header(width: int, height: int) -> None:
    info = inspect(face_jpeg(width, height))
    assert (info.width, info.height, info.components, info.progressive) == (
        width,
        height,
        1,
        False,
    )


def test_markers_are_walked_not_guessed() -> None:
    photo = face_jpeg(200, 240)
    # A comment segment that happens to contain SOF-like bytes is skipped by its length.
    sof0 = photo.index(b"\xff\xc0")
    decoy = b"\xff\xfe" + struct.pack(">H", 2 + 9) + b"\xff\xc0\x00\x11\x08\x00\x10\x00\x10"
    assert inspect(photo[:sof0] + decoy + photo[sof0:]).width == 200
    # Fill bytes before a marker are allowed; a progressive frame is recognised as such.
    assert inspect(photo[:sof0] + b"\xff\xff" + photo[sof0:]).height == 240
    progressive = photo[: sof0 + 1] + b"\xc2" + photo[sof0 + 2 :]
    assert inspect(progressive).progressive


@pytest.mark.parametrize(
    ("mangle", "code"),
    [
        (lambda p: b"GIF89a" + p, "NOT_A_JPEG"),
        (lambda p: p[:-2], "NOT_A_JPEG"),  # no EOI
        (lambda p: p[:2] + p[-2:], "NOT_A_JPEG"),  # SOI EOI, nothing between
        (lambda p: p[:4] + b"\xff\xff" + p[6:], "NOT_A_JPEG"),  # a segment past the end
        (lambda p: p[:2] + b"\x00" + p[2:], "NOT_A_JPEG"),  # garbage where a marker goes
        (lambda p: p.replace(b"\xff\xc0", b"\xff\xe1", 1), "NOT_A_JPEG"),  # no frame
        (lambda p: face_jpeg(63, 200), "FACE_TOO_SMALL"),
        (lambda p: face_jpeg(4100, 64), "FACE_TOO_LARGE"),
        (lambda p: face_jpeg(padding=200 * 1024), "FACE_TOO_LARGE"),
    ],
)
def test_what_is_refused(mangle: object, code: str) -> None:
    with pytest.raises(JpegError) as caught:
        inspect(mangle(face_jpeg()))  # type: ignore[operator]
    assert caught.value.code == code and str(caught.value)


def test_the_cipher_binds_a_photo_to_its_ticket_and_its_key() -> None:
    photo = face_jpeg()
    cipher = FaceCipher(key_from_settings("", "secret-a"))
    sealed = cipher.seal("t1", photo)
    assert photo not in sealed and cipher.open("t1", sealed) == photo
    assert cipher.seal("t1", photo) != sealed  # a fresh nonce each time
    with pytest.raises(ValueError, match="decrypt"):
        cipher.open("t2", sealed)
    with pytest.raises(ValueError, match="decrypt"):
        FaceCipher(key_from_settings("", "secret-b")).open("t1", sealed)
    tampered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(ValueError, match="decrypt"):
        cipher.open("t1", tampered)
    own = base64.b64encode(b"k" * 32).decode()
    assert (
        FaceCipher(key_from_settings(own, "ignored")).open(
            "t1", FaceCipher(b"k" * 32).seal("t1", photo)
        )
        == photo
    )


@pytest.mark.parametrize("bad", ["not base64!", base64.b64encode(b"short").decode()])
def test_an_unusable_key_is_refused_at_start(bad: str) -> None:
    with pytest.raises(FaceKeyError, match="TICKETHUB_FACE_KEY"):
        key_from_settings(bad, "x")


def test_a_photo_slipping_into_a_log_line_is_masked() -> None:
    photo = face_jpeg()
    for shown in (repr(photo), base64.b64encode(photo).decode(), photo.hex()):
        text = mask_text(f"pushed person 501 with {shown} to hik-1")
        assert text == "pushed person 501 with <jpeg masked> to hik-1"
    assert mask_text("card ffd8 and /9j/ alone stay") == "card ffd8 and /9j/ alone stay"

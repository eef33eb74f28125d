from __future__ import annotations

import base64
import struct
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.domain import DenialCode
from hub.domain.credentials import (
    MAX_TEXT_CHARS,
    PREFIX,
    CredentialClaims,
    CredentialError,
    CredentialSigner,
    CredentialVerifier,
    RevocationList,
    generate_keypair,
)

PRIVATE, PUBLIC = generate_keypair()
OTHER_PRIVATE, OTHER_PUBLIC = generate_keypair()
SIGNER = CredentialSigner(PRIVATE)
VERIFIER = CredentialVerifier({1: PUBLIC})
START = datetime(2026, 4, 30, 16, 0, tzinfo=UTC)


def claims(**overrides: Any) -> CredentialClaims:
    values: dict[str, Any] = {
        "ticket_id": "0123456789abcdef",
        "product_id": "p1",
        "valid_from": START,
        "valid_until": START + timedelta(days=1),
        "entries_allowed": 1,
    }
    return CredentialClaims(**{**values, **overrides})


def blob_of(text: str) -> bytes:
    payload = text[len(PREFIX) :]
    return base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))


def text_of(blob: bytes) -> str:
    return PREFIX + base64.urlsafe_b64encode(blob).rstrip(b"=").decode()


def test_keypair_is_raw_base64() -> None:
    assert len(base64.b64decode(PRIVATE)) == 32
    assert len(base64.b64decode(PUBLIC)) == 32
    assert (PRIVATE, PUBLIC) != (OTHER_PRIVATE, OTHER_PUBLIC)


@pytest.mark.parametrize(
    "original",
    [
        claims(),
        claims(product_id="x" * 32, entries_allowed=255, ticket_id="ffffffffffffffff"),
        claims(product_id="九寨沟-成人票", entries_allowed=0, ticket_id="0000000000000000"),
        claims(valid_until=START + timedelta(days=366)),
    ],
)
def test_round_trip(original: CredentialClaims) -> None:
    text = SIGNER.sign(original)
    assert text.startswith("TH1.")
    assert VERIFIER.verify(text) == original


def test_claims_are_normalised_to_utc() -> None:
    beijing = timezone(timedelta(hours=8))
    local_claims = claims(valid_from=START.astimezone(beijing))
    decoded = VERIFIER.verify(SIGNER.sign(local_claims))
    assert decoded.valid_from.tzinfo is UTC
    assert decoded.valid_from == START


@settings(max_examples=50, deadline=None)
@given(
    st.text(min_size=1, max_size=32).filter(lambda s: 0 < len(s.encode()) <= 32),
    st.integers(0, 255),
)
def test_any_product_id_up_to_32_bytes_fits_160_chars(product_id: str, entries: int) -> None:
    text = SIGNER.sign(claims(product_id=product_id, entries_allowed=entries))
    assert len(text) <= MAX_TEXT_CHARS
    assert VERIFIER.verify(text).product_id == product_id


def test_worst_case_length_is_within_160() -> None:
    assert len(SIGNER.sign(claims(product_id="é" * 16))) <= 160


def test_key_rotation_uses_the_key_id() -> None:
    second = CredentialSigner(OTHER_PRIVATE, key_id=2)
    verifier = CredentialVerifier({1: PUBLIC, 2: OTHER_PUBLIC})
    text = second.sign(claims(key_id=2))
    assert verifier.verify(text).key_id == 2
    with pytest.raises(CredentialError, match="unknown key 2"):
        VERIFIER.verify(text)


def test_wrong_key_is_rejected() -> None:
    impostor = CredentialSigner(OTHER_PRIVATE, key_id=1)
    with pytest.raises(CredentialError, match="signature"):
        VERIFIER.verify(impostor.sign(claims()))


def test_signer_refuses_claims_for_another_key() -> None:
    with pytest.raises(ValueError, match="key 2"):
        SIGNER.sign(claims(key_id=2))


GOOD = SIGNER.sign(claims(product_id="combo-2026"))
GOOD_BLOB = blob_of(GOOD)


def test_every_bit_of_every_byte_is_protected() -> None:
    for position in range(len(GOOD_BLOB)):
        for bit in range(8):
            tampered = bytearray(GOOD_BLOB)
            tampered[position] ^= 1 << bit
            with pytest.raises(CredentialError):
                VERIFIER.verify(text_of(bytes(tampered)))


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_any_single_byte_change_is_rejected(data: st.DataObject) -> None:
    position = data.draw(st.integers(0, len(GOOD_BLOB) - 1))
    value = data.draw(st.integers(0, 255).filter(lambda v: v != GOOD_BLOB[position]))
    tampered = bytearray(GOOD_BLOB)
    tampered[position] = value
    with pytest.raises(CredentialError):
        VERIFIER.verify(text_of(bytes(tampered)))


def test_every_single_character_change_is_rejected() -> None:
    # Includes the last character, whose low bits base64 does not use: one text per credential.
    for position in range(len(GOOD)):
        for replacement in "AB_-9":
            if GOOD[position] == replacement:
                continue
            tampered = GOOD[:position] + replacement + GOOD[position + 1 :]
            with pytest.raises(CredentialError):
                VERIFIER.verify(tampered)


JUNK: list[tuple[Any, str]] = [
    ("", "prefix"),
    ("hello", "prefix"),
    ("TH2." + GOOD[4:], "prefix"),
    ("th1." + GOOD[4:], "prefix"),
    ("TH1.", "truncated"),
    ("TH1.!!!!", "base64url"),
    ("TH1." + GOOD[4:] + "=", "base64url"),
    ("TH1.abcde", "bad length"),
    (GOOD[:-10], "wrong length"),
    (GOOD[:60], "truncated"),
    (text_of(GOOD_BLOB + b"\x00"), "wrong length"),
    (GOOD + "A" * 200, "too long"),
    (GOOD.replace("TH1.", "TH1. "), "base64url"),
    (None, "not text"),
    (b"TH1.AAAA", "not text"),
]


@pytest.mark.parametrize(
    ("text", "words"),
    # Ids by position, not by text: some texts hold a freshly signed credential, and the
    # ids must be the same in every pytest-xdist worker.
    [pytest.param(text, words, id=f"{n}-{words}") for n, (text, words) in enumerate(JUNK)],
)
def test_junk_is_rejected_with_credential_error(text: Any, words: str) -> None:
    with pytest.raises(CredentialError) as info:
        VERIFIER.verify(text)
    assert words in str(info.value)
    assert info.value.code == DenialCode.BAD_CREDENTIAL


def test_wrong_version_is_rejected_even_when_properly_signed() -> None:
    key = Ed25519PrivateKey.from_private_bytes(base64.b64decode(PRIVATE))
    body = bytearray(GOOD_BLOB[:-64])
    body[0] = 2
    forged = text_of(bytes(body) + key.sign(bytes(body)))
    with pytest.raises(CredentialError, match="version 2"):
        VERIFIER.verify(forged)


def test_signed_nonsense_is_still_a_credential_error() -> None:
    # valid_until before valid_from, signed with the real key: never issued by our signer.
    key = Ed25519PrivateKey.from_private_bytes(base64.b64decode(PRIVATE))
    body = struct.pack(">BB8sIIBB", 1, 1, b"\x01" * 8, 100, 50, 1, 2) + b"p1"
    with pytest.raises(CredentialError, match="content is invalid"):
        VERIFIER.verify(text_of(body + key.sign(body)))


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=200), st.text(max_size=200).map(lambda s: "TH1." + s)))
def test_arbitrary_text_only_ever_raises_credential_error(text: str) -> None:
    with pytest.raises(CredentialError):
        VERIFIER.verify(text)


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"ticket_id": "0123456789ABCDEF"}, "ticket_id"),
        ({"ticket_id": "0123"}, "ticket_id"),
        ({"product_id": ""}, "product_id"),
        ({"product_id": "x" * 33}, "32 UTF-8 bytes"),
        ({"product_id": "票" * 11}, "32 UTF-8 bytes"),
        ({"valid_from": datetime(2026, 5, 1)}, "timezone-aware"),
        ({"valid_from": START + timedelta(seconds=30)}, "whole minute"),
        ({"valid_until": START}, "after valid_from"),
        ({"valid_from": datetime(1960, 1, 1, tzinfo=UTC)}, "range"),
        ({"entries_allowed": 256}, "entries_allowed"),
        ({"entries_allowed": -1}, "entries_allowed"),
        ({"key_id": 300}, "key_id"),
    ],
)
def test_claims_validate_on_construction(overrides: dict[str, Any], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        claims(**overrides)


@pytest.mark.parametrize("bad", ["not base64!", base64.b64encode(b"short").decode()])
def test_bad_keys_are_refused_up_front(bad: str) -> None:
    with pytest.raises(ValueError):
        CredentialSigner(bad)
    with pytest.raises(ValueError):
        CredentialVerifier({1: bad})


# -- revocation ---------------------------------------------------------------------------


def test_revocation_list() -> None:
    revoked = RevocationList()
    assert revoked.version == 0 and len(revoked) == 0
    assert revoked.add("00000000000000aa") is True
    assert revoked.add("00000000000000bb") is True
    assert revoked.add("00000000000000aa") is False  # already there: no new version
    assert revoked.version == 2
    assert "00000000000000aa" in revoked
    assert "00000000000000cc" not in revoked
    snapshot = revoked.as_dict()
    assert snapshot == {"version": 2, "ticket_ids": ["00000000000000aa", "00000000000000bb"]}
    assert RevocationList.from_dict(snapshot) == revoked


@pytest.mark.parametrize(
    "data",
    [
        {"version": 1, "ticket_ids": ["nope"]},
        {"version": -1, "ticket_ids": []},
        {"version": "3", "ticket_ids": []},
        {"version": 1, "ticket_ids": "00000000000000aa"},
        ["00000000000000aa"],
    ],
)
def test_revocation_list_from_bad_dict(data: Any) -> None:
    with pytest.raises(ValueError):
        RevocationList.from_dict(data)


def test_revocation_list_refuses_bad_ids() -> None:
    with pytest.raises(ValueError):
        RevocationList().add("ABC")

"""Bridge keys certified by the venue key (`hub.domain.delegation`): what a gate trusts."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from hub.domain.credentials import (
    CredentialClaims,
    CredentialError,
    CredentialSigner,
    generate_keypair,
    key_id_of,
)
from hub.domain.delegation import (
    BridgeKeyCertificate,
    CertificateError,
    certify,
    check_certificate,
    gate_verifier,
)

T = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
VENUE_PRIVATE, VENUE_PUBLIC = generate_keypair()
BRIDGE_PRIVATE, BRIDGE_PUBLIC = generate_keypair()
VENUE_KEYS = {1: VENUE_PUBLIC}


def _cert(**over: object) -> BridgeKeyCertificate:
    args: dict[str, object] = {
        "venue_id": "v1",
        "bridge_id": "b1",
        "key_id": 128,
        "public_key": BRIDGE_PUBLIC,
        "valid_from": T,
        "valid_until": T + timedelta(days=7),
    }
    args.update(over)
    return certify(VENUE_PRIVATE, 1, **args)  # type: ignore[arg-type]


def _credential(key_id: int = 128, private: str = BRIDGE_PRIVATE) -> str:
    return CredentialSigner(private, key_id).sign(
        CredentialClaims(
            ticket_id="0123456789abcdef",
            product_id="adult",
            valid_from=T,
            valid_until=T + timedelta(days=1),
            entries_allowed=1,
            key_id=key_id,
        )
    )


def test_a_certified_key_verifies_within_its_period_only() -> None:
    verifier, dropped = gate_verifier(VENUE_KEYS, [_cert().as_dict()], venue_id="v1")
    assert dropped == []
    text = _credential()
    assert key_id_of(text) == 128
    assert verifier.verify(text, T + timedelta(hours=1)).ticket_id == "0123456789abcdef"
    with pytest.raises(CredentialError, match="expired"):
        verifier.verify(text, T + timedelta(days=8))
    with pytest.raises(CredentialError, match="time unknown"):
        verifier.verify(text)


def test_revoked_tampered_foreign_and_uncertified_keys_are_not_trusted() -> None:
    good = _cert().as_dict()
    tampered = {**good, "valid_until": (T + timedelta(days=300)).isoformat()}
    other_venue = _cert(venue_id="v2").as_dict()
    for certs, revoked, venue in (
        ([good], [128], "v1"),
        ([tampered], [], "v1"),
        ([other_venue], [], "v1"),
        ([], [], "v1"),
    ):
        verifier, _ = gate_verifier(VENUE_KEYS, certs, revoked, venue_id=venue)
        with pytest.raises(CredentialError, match="unknown key"):
            verifier.verify(_credential(), T + timedelta(hours=1))


def test_a_certificate_cannot_stand_in_for_a_venue_key() -> None:
    cert = replace(_cert(), key_id=1)
    with pytest.raises(CertificateError):
        check_certificate(cert, VENUE_KEYS)
    with pytest.raises(ValueError, match=r"128\.\.255"):
        _cert(key_id=1)
    forged = _cert(public_key=generate_keypair()[1])
    verifier, _ = gate_verifier(VENUE_KEYS, [forged.as_dict()], venue_id="v1")
    with pytest.raises(CredentialError, match="signature is invalid"):
        verifier.verify(_credential(), T + timedelta(hours=1))  # signed by another key


def test_venue_credentials_keep_verifying_without_a_time() -> None:
    verifier, _ = gate_verifier(VENUE_KEYS, [_cert().as_dict()], venue_id="v1")
    assert verifier.verify(_credential(1, VENUE_PRIVATE)).key_id == 1

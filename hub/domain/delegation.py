"""Bridge keys delegated by the venue key: how an emergency box office at a bridge signs
credentials the hub never saw, and how every gate tells them from forgeries.

The bridge makes its own Ed25519 key pair (the private half never leaves it); staff
certify its public half at the hub, which signs a `BridgeKeyCertificate` with the
VENUE key: "key id K of bridge B of venue V is this public key, valid from … until …".
Gates hold the venue's public keys already, so they can check a certificate offline,
and then accept credentials signed with key K — only while the certificate is valid and
only while K is not revoked. Revocation travels as the list of certificates the hub
still vouches for plus the ids it revoked (`gate_verifier`), pushed with every sync.

Key ids share the credential's one byte with the venue's own keys: bridge keys take
128..255 (`BRIDGE_KEY_IDS`), never reused within a venue, so a revoked key's id can
never come back meaning another key.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from hub.domain.credentials import CredentialVerifier, _raw_key

BRIDGE_KEY_IDS = range(128, 256)


class CertificateError(ValueError):
    """A certificate that must not be trusted; the message says why."""


@dataclass(frozen=True, slots=True)
class BridgeKeyCertificate:
    venue_id: str
    bridge_id: str
    key_id: int
    public_key: str  # raw 32-byte Ed25519, base64
    valid_from: datetime
    valid_until: datetime
    issuer_key_id: int  # the venue key that signed it
    signature: str = ""  # base64 Ed25519 over `body()`

    def body(self) -> bytes:
        """The signed bytes: canonical JSON of every field but the signature."""
        fields = asdict(self)
        fields.pop("signature")
        fields["valid_from"] = self.valid_from.isoformat()
        fields["valid_until"] = self.valid_until.isoformat()
        return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["valid_from"] = self.valid_from.isoformat()
        data["valid_until"] = self.valid_until.isoformat()
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BridgeKeyCertificate:
        try:
            return cls(
                venue_id=str(data["venue_id"]),
                bridge_id=str(data["bridge_id"]),
                key_id=int(data["key_id"]),
                public_key=str(data["public_key"]),
                valid_from=datetime.fromisoformat(str(data["valid_from"])),
                valid_until=datetime.fromisoformat(str(data["valid_until"])),
                issuer_key_id=int(data["issuer_key_id"]),
                signature=str(data.get("signature", "")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise CertificateError(f"not a bridge key certificate: {exc}") from None

    def valid_at(self, at: datetime) -> bool:
        return self.valid_from <= at < self.valid_until


def certify(
    venue_private_key_b64: str,
    issuer_key_id: int,
    *,
    venue_id: str,
    bridge_id: str,
    key_id: int,
    public_key: str,
    valid_from: datetime,
    valid_until: datetime,
) -> BridgeKeyCertificate:
    """Sign a certificate for a bridge's public key with the venue's private key."""
    if key_id not in BRIDGE_KEY_IDS:
        raise ValueError(f"bridge key ids are {BRIDGE_KEY_IDS.start}..{BRIDGE_KEY_IDS.stop - 1}")
    _raw_key(public_key, "bridge public key")
    if valid_from.tzinfo is None or valid_until.tzinfo is None:
        raise ValueError("validity must be timezone-aware")
    if valid_until <= valid_from:
        raise ValueError("valid_until must be after valid_from")
    cert = BridgeKeyCertificate(
        venue_id, bridge_id, key_id, public_key, valid_from, valid_until, issuer_key_id
    )
    key = Ed25519PrivateKey.from_private_bytes(_raw_key(venue_private_key_b64, "venue key"))
    signature = base64.b64encode(key.sign(cert.body())).decode()
    return BridgeKeyCertificate(**{**asdict(cert), "signature": signature})


def check_certificate(cert: BridgeKeyCertificate, venue_keys: Mapping[int, str]) -> None:
    """Raise `CertificateError` unless a venue key signed `cert` and its key id is a
    bridge key id (a certificate may never stand in for a venue key)."""
    if cert.key_id not in BRIDGE_KEY_IDS or cert.key_id in venue_keys:
        raise CertificateError(f"key id {cert.key_id} is not a bridge key id")
    issuer = venue_keys.get(cert.issuer_key_id)
    if issuer is None:
        raise CertificateError(f"issuer key {cert.issuer_key_id} is not a venue key")
    try:
        signature = base64.b64decode(cert.signature, validate=True)
        Ed25519PublicKey.from_public_bytes(_raw_key(issuer, "venue key")).verify(
            signature, cert.body()
        )
        _raw_key(cert.public_key, "bridge public key")
    except (InvalidSignature, ValueError) as exc:
        raise CertificateError(f"certificate of key {cert.key_id} does not verify") from exc


def gate_verifier(
    venue_keys: Mapping[int, str],
    certificates: Iterable[Mapping[str, Any]] = (),
    revoked: Iterable[int] = (),
    *,
    venue_id: str | None = None,
) -> tuple[CredentialVerifier, list[str]]:
    """The verifier every gate uses: the venue's keys plus each bridge key whose
    certificate verifies, is for this venue and is not revoked (each limited to its
    validity period). Returns it with the reasons certificates were left out."""
    keys = dict(venue_keys)
    windows: dict[int, tuple[datetime, datetime]] = {}
    dropped: list[str] = []
    revoked_ids = set(revoked)
    for data in certificates:
        try:
            cert = BridgeKeyCertificate.from_dict(data)
            check_certificate(cert, venue_keys)
        except CertificateError as exc:
            dropped.append(str(exc))
            continue
        if venue_id is not None and cert.venue_id != venue_id:
            dropped.append(f"key {cert.key_id} is certified for venue {cert.venue_id}")
        elif cert.key_id in revoked_ids:
            dropped.append(f"key {cert.key_id} of {cert.bridge_id} is revoked")
        else:
            keys[cert.key_id] = cert.public_key
            windows[cert.key_id] = (cert.valid_from, cert.valid_until)
    return CredentialVerifier(keys, windows), dropped

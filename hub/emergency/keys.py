"""Certify and revoke bridge keys (`hub.domain.delegation`).

The hub never holds a bridge's private key: the bridge shows its public key (its
``/status`` and the ticket-window page) and staff certify that. The certificate is
signed with the venue's private key, which stays at the hub.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.domain.delegation import BRIDGE_KEY_IDS, BridgeKeyCertificate, certify
from hub.domain.errors import DeniedError
from hub.storage.emergency_tables import BridgeKeyRow
from hub.storage.tables import VenueRow

KEYS = BridgeKeyRow.__table__
K = KEYS.c
MAX_VALID_DAYS = 30


def certificate_of(row: Any) -> BridgeKeyCertificate:
    return BridgeKeyCertificate(
        venue_id=row.venue_id,
        bridge_id=row.bridge_id,
        key_id=int(row.key_id),
        public_key=row.public_key,
        valid_from=row.valid_from,
        valid_until=row.valid_until,
        issuer_key_id=int(row.issuer_key_id),
        signature=row.signature,
    )


def key_json(row: Any) -> dict[str, Any]:
    return {
        **certificate_of(row).as_dict(),
        "certified_at": row.certified_at.isoformat(),
        "certified_by": row.certified_by,
        "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None,
        "revoked_by": row.revoked_by,
        "revoke_reason": row.revoke_reason,
    }


async def certify_key(
    engine: AsyncEngine,
    *,
    venue_id: str,
    bridge_id: str,
    public_key: str,
    valid_days: int,
    staff: str,
    now: datetime,
) -> dict[str, Any]:
    """Certify `public_key` for `bridge_id` from now for `valid_days` days, with the next
    unused bridge key id of the venue. Certifying the key a bridge already holds (same
    public key, not revoked) answers the existing certificate: a retried call is safe."""
    if not 1 <= valid_days <= MAX_VALID_DAYS:
        raise DeniedError.of("INVALID_VALIDITY", f"valid_days: 1..{MAX_VALID_DAYS}")
    async with engine.begin() as conn:
        venue = (await conn.execute(select(VenueRow).where(VenueRow.id == venue_id))).first()
        if venue is None:
            raise DeniedError.of("UNKNOWN_VENUE", f"venue_id: no venue {venue_id!r}")
        if not venue.signing_private_key:
            raise DeniedError.of(
                "NO_VENUE_KEY", "the venue's private key is not at the hub: cannot certify"
            )
        same = (
            await conn.execute(
                select(KEYS).where(
                    K.venue_id == venue_id,
                    K.bridge_id == bridge_id,
                    K.public_key == public_key,
                    K.revoked_at.is_(None),
                    K.valid_until > now,
                )
            )
        ).first()
        if same is not None:
            return key_json(same)
        last = (
            await conn.execute(select(func.max(K.key_id)).where(K.venue_id == venue_id))
        ).scalar()
        key_id = BRIDGE_KEY_IDS.start if last is None else int(last) + 1
        if key_id not in BRIDGE_KEY_IDS:
            raise DeniedError.of(
                "NO_KEY_IDS_LEFT", f"venue {venue_id} used every bridge key id (128..255)"
            )
        start = now.replace(second=0, microsecond=0)
        try:
            cert = certify(
                venue.signing_private_key,
                int(venue.signing_key_id),
                venue_id=venue_id,
                bridge_id=bridge_id,
                key_id=key_id,
                public_key=public_key,
                valid_from=start,
                valid_until=start + timedelta(days=valid_days),
            )
        except ValueError as exc:
            raise DeniedError.of("INVALID_PUBLIC_KEY", f"public_key: {exc}") from None
        await conn.execute(
            insert(KEYS).values(
                venue_id=venue_id,
                bridge_id=bridge_id,
                key_id=key_id,
                public_key=public_key,
                issuer_key_id=cert.issuer_key_id,
                signature=cert.signature,
                valid_from=cert.valid_from,
                valid_until=cert.valid_until,
                certified_at=now,
                certified_by=staff,
                revoked_by="",
                revoke_reason="",
            )
        )
        row = (
            await conn.execute(select(KEYS).where(K.venue_id == venue_id, K.key_id == key_id))
        ).one()
        return key_json(row)


async def revoke_key(
    engine: AsyncEngine, *, venue_id: str, key_id: int, staff: str, reason: str, now: datetime
) -> dict[str, Any]:
    """Revoke a bridge key: every bridge refuses its credentials after its next sync."""
    async with engine.begin() as conn:
        await conn.execute(
            update(KEYS)
            .where(K.venue_id == venue_id, K.key_id == key_id, K.revoked_at.is_(None))
            .values(revoked_at=now, revoked_by=staff, revoke_reason=reason)
        )
        row = (
            await conn.execute(select(KEYS).where(K.venue_id == venue_id, K.key_id == key_id))
        ).first()
    if row is None:
        raise DeniedError.of("UNKNOWN_KEY", f"venue {venue_id} has no bridge key {key_id}")
    return key_json(row)


async def keys_of(engine: AsyncEngine, venue_id: str) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        rows = (
            await conn.execute(select(KEYS).where(K.venue_id == venue_id).order_by(K.key_id))
        ).all()
    return [key_json(r) for r in rows]

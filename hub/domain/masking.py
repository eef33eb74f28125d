"""Masking of personal data for logs and displays (ID numbers, names, phones)."""

from __future__ import annotations

from hub.domain.gate import Medium


def mask_id(value: str | None) -> str | None:
    """``110101199003071234`` → ``1101**********1234``: enough to tell two apart."""
    if not value:
        return value
    if len(value) <= 8:
        return value[:1] + "*" * (len(value) - 1)
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


def mask_phone(value: str | None) -> str | None:
    if not value:
        return value
    if len(value) < 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_name(value: str | None) -> str | None:
    if not value:
        return value
    return value[0] + "*" * (len(value) - 1)


def mask_scan(medium: Medium, value: str) -> str:
    """What of a value read at a gate may appear in a log line: an ID number masked, any
    other credential (QR payload, card number) cut to its first six characters — enough
    to tell scans apart, not enough to forge one."""
    if medium is Medium.ID_CARD:
        return mask_id(value) or ""
    return value[:6] + "…" if len(value) > 6 else value

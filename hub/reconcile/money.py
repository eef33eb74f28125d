"""Fen inside, yuan at the edges. Statements speak yuan with two decimals; parsing goes
through `Decimal` so 0.1 + 0.2 never becomes a discrepancy."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation


def yuan(fen: int) -> str:
    """1234 -> '12.34', -5 -> '-0.05' (reports and exports)."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole}.{cents:02d}"


def fen_of(text: str) -> int:
    """'12.34' -> 1234. Refuses anything that is not an amount with at most two decimals
    (ValueError with the text), so a shifted column is not read as money."""
    raw = text.strip()
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise ValueError(f"not an amount: {raw!r}") from None
    if not value.is_finite() or value != value.quantize(Decimal("0.01")):
        raise ValueError(f"not an amount with two decimals: {raw!r}")
    return int(value * 100)

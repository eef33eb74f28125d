"""Work in progress."""

from __future__ import annotations


def demo() -> None:
    """Work in progress."""

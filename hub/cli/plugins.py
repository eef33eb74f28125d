"""Work in progress."""

from __future__ import annotations


def plugins() -> None:
    """Work in progress."""

"""Work in progress."""

from __future__ import annotations


def serve() -> None:
    """Work in progress."""

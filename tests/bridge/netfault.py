"""The cuttable link moved to `hub.testing.netfault` (the failover bench uses it too)."""

from __future__ import annotations

from hub.testing.netfault import LinkProxy

__all__ = ["LinkProxy"]

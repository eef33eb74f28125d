"""Conformance probes: each partner's side of `hub.testing.conformance`, one per OTA."""

"""Sandbox OTA partners: each simulates its partner's side byte for byte, for tests and demos."""

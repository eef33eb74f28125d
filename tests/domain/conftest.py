"""Fixtures of the domain tests (factories live in `factories.py`)."""

from __future__ import annotations

import pytest

from hub.domain.rules import RuleEngine, builtin_registry


@pytest.fixture(scope="session")
def engine() -> RuleEngine:
    return RuleEngine(builtin_registry())

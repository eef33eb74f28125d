"""pytest plugin (entry point ``pytest11``): fixtures for testing tickethub plugins."""

from __future__ import annotations

import pytest

from hub.plugins import HubPlugins, build_plugins


@pytest.fixture
def hub_plugins() -> HubPlugins:
    """The plugins installed in this environment, loaded as the hub loads them."""
    return build_plugins()

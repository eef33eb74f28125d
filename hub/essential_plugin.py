"""The essential plugin (cannot be blocked): it registers the rule engine's built-in
checks (written in `hub.domain.rules.builtin`) through the ``register_rules`` hook, the
way any plugin registers its own.

Registered with ``default=True`` so that a plugin may replace any of them by name (a venue
with its own notion of "age", say) without a conflict, whatever the load order.
"""

from __future__ import annotations

from hub.domain.rules.builtin import register_builtin_checks
from hub.domain.rules.registry import RuleRegistry
from hub.hookspecs import hookimpl


@hookimpl
def register_rules(registry: RuleRegistry) -> None:
    """Add every built-in check (real_name, quantity, booking_window, entries, …)."""
    register_builtin_checks(registry, default=True)

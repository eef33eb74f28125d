"""The plugin manager of one application, behind a typed facade.

Built by `build_plugins()` (no module-level global). Built-in plugins in `plugins/` are
found through the ``tickethub`` entry-point group exactly like third-party packages, and
can be blocked by configuration (``TICKETHUB_BLOCKED_PLUGINS``). The essential plugin
(`hub.builtin_rules`, the built-in rule checks) cannot be blocked.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from importlib import metadata
from types import ModuleType
from typing import Any

import pluggy
import typer

from hub import builtin_rules, hookspecs
from hub.contracts import PartnerCall
from hub.domain import Order, Redemption, Ticket
from hub.domain.rules.registry import RuleRegistry
from hub.registries import ChannelRegistry, DeviceDriverRegistry, PaymentProviderRegistry

ESSENTIAL: tuple[ModuleType, ...] = (builtin_rules,)


@dataclass(frozen=True, slots=True)
class PluginInfo:
    name: str
    distribution: str
    version: str
    essential: bool
    blocked: bool


class HubPlugins:
    """The only way core code talks to plugins: one typed method per hook."""

    def __init__(self, pm: pluggy.PluginManager, blocked: frozenset[str]) -> None:
        self.pm = pm
        self.blocked = blocked
        self.channels = ChannelRegistry()
        self.payments = PaymentProviderRegistry()
        self.rules = RuleRegistry()
        self.devices = DeviceDriverRegistry()
        self._register_all()

    # -- registration -------------------------------------------------------------------
    def _each_impl(self, hook_name: str) -> Iterable[tuple[str, Any]]:
        hook = getattr(self.pm.hook, hook_name)
        # Oldest first, so later (third-party) registrations see built-ins already there.
        for impl in hook.get_hookimpls():
            yield (self.pm.get_name(impl.plugin) or "?"), impl

    def _register_all(self) -> None:
        for hook_name, registry in (
            ("register_channels", self.channels),
            ("register_payment_providers", self.payments),
            ("register_rules", self.rules),
            ("register_device_drivers", self.devices),
        ):
            for name, impl in self._each_impl(hook_name):
                registry._set_source(name)
                impl.function(registry=registry)

    def add_event_listener(self, listener: object, name: str) -> None:
        """Register an object with event hookimpls after the build (spec-only channels:
        the hub creates them from settings, so no entry point knows them)."""
        self.pm.register(listener, name=name)
        self.pm.check_pending()

    def add_cli_commands(self, app: typer.Typer) -> None:
        self.pm.hook.add_cli_commands(app=app)

    # -- events -------------------------------------------------------------------------
    @staticmethod
    def _calls(results: list[list[PartnerCall] | None]) -> list[PartnerCall]:
        return [call for batch in results if batch for call in batch]

    def order_confirmed(self, order: Order) -> list[PartnerCall]:
        return self._calls(self.pm.hook.order_confirmed(order=order))

    def order_cancelled(self, order: Order) -> list[PartnerCall]:
        return self._calls(self.pm.hook.order_cancelled(order=order))

    def order_expired(self, order: Order) -> list[PartnerCall]:
        return self._calls(self.pm.hook.order_expired(order=order))

    def order_refunded(self, order: Order, tickets: list[Ticket]) -> list[PartnerCall]:
        return self._calls(self.pm.hook.order_refunded(order=order, tickets=tickets))

    def ticket_redeemed(
        self, order: Order, ticket: Ticket, redemption: Redemption
    ) -> list[PartnerCall]:
        return self._calls(
            self.pm.hook.ticket_redeemed(order=order, ticket=ticket, redemption=redemption)
        )

    def capacity_changed(self, venue_id: str, pool: str, days: list[date]) -> list[PartnerCall]:
        return self._calls(self.pm.hook.capacity_changed(venue_id=venue_id, pool=pool, days=days))

    # -- introspection ------------------------------------------------------------------
    def describe(self) -> list[PluginInfo]:
        infos: list[PluginInfo] = []
        dists = {name: dist for name, dist in self.pm.list_plugin_distinfo()}
        for name, plugin in self.pm.list_name_plugin():
            if plugin is None:
                continue
            dist = next((d for p, d in dists.items() if p is plugin), None)
            infos.append(
                PluginInfo(
                    name=name,
                    distribution=dist.project_name if dist else "tickethub (core)",
                    version=dist.version if dist else _own_version(),
                    essential=plugin in ESSENTIAL,
                    blocked=False,
                )
            )
        for name in sorted(self.blocked):
            infos.append(PluginInfo(name, "-", "-", essential=False, blocked=True))
        return sorted(infos, key=lambda i: (i.blocked, i.name))


def _own_version() -> str:
    try:
        return metadata.version("tickethub")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def build_plugins(
    *,
    blocked: Iterable[str] = (),
    extra: Iterable[object] = (),
    load_entry_points: bool = True,
) -> HubPlugins:
    """Build the plugin manager of one application.

    :param blocked: entry-point names not to load (built-in or third-party).
    :param extra: plugin objects registered directly (tests, embedding applications);
        they are registered last, so they override entry-point plugins.
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    # Essential plugins cannot be blocked (pluggy's set_blocked would unregister them).
    blocked_set = frozenset(blocked) - {m.__name__ for m in ESSENTIAL}
    for module in ESSENTIAL:
        pm.register(module, name=module.__name__)
    for name in blocked_set:
        pm.set_blocked(name)
    if load_entry_points:
        pm.load_setuptools_entrypoints(hookspecs.PROJECT)
    for plugin in extra:
        pm.register(plugin)
    pm.check_pending()
    return HubPlugins(pm, blocked_set)

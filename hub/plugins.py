"""The plugin manager of one application, behind a typed facade.

Built by `build_plugins()` (no module-level global). Built-in plugins in `plugins/` are
found through the ``tickethub`` entry-point group exactly like third-party packages, and
can be blocked by configuration (``TICKETHUB_BLOCKED_PLUGINS``). The essential plugin
(`hub.essential_plugin`, the built-in rule checks) and `hub.channels.builtin_schemes` (the
shared codecs and signatures every spec may name) cannot be blocked.

A third-party plugin that fails to import, to validate (a misspelt hook) or to register
is left out with a warning that names it and its distribution, so one broken package does
not take the hub down; ``strict=True`` (``tickethub serve --strict``,
``TICKETHUB_STRICT_PLUGINS=1``) makes that a `PluginLoadError` instead. A broken built-in
is always an error: the installation itself is damaged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from importlib import metadata
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pluggy
import typer

from hub import essential_plugin, hookspecs
from hub.config import ConfigError
from hub.contracts import PartnerCall
from hub.domain import Order, Redemption, Ticket
from hub.domain.rules.registry import RuleRegistry
from hub.plugin_entry_points import offered_plugins
from hub.sdk.registries import (
    AlertSinkRegistry,
    ChannelRegistry,
    DeviceDriverRegistry,
    PaymentProviderRegistry,
)
from hub.sdk.stock import StockPusherRegistry

if TYPE_CHECKING:
    from hub.channels.schemes import (
        ChannelSpecRegistry,
        CodecRegistry,
        Protocols,
        SignatureSchemeRegistry,
    )



def essential_plugins() -> tuple[ModuleType, ...]:
    """The plugins that cannot be blocked. The shared schemes come with the channel
    machinery (`hub.channels`), imported here, when a manager is built, rather than with
    this module: the venue bridge imports the plugin runtime and must stay light."""
    from hub.channels import builtin_schemes

    return (essential_plugin, builtin_schemes)

OWN_DISTRIBUTION = "tickethub"

log = logging.getLogger("hub.plugins")


class PluginLoadError(ConfigError):
    """A plugin that cannot be used: which one, from which distribution, and why."""


@dataclass(frozen=True, slots=True)
class BrokenPlugin:
    """A plugin left out: its entry-point name, distribution and the reason."""

    name: str
    distribution: str
    version: str
    error: str

    def line(self) -> str:
        return (
            f"plugin {self.name!r} (distribution {self.distribution} {self.version}) "
            f"is broken and was left out: {self.error}"
        )


@dataclass(frozen=True, slots=True)
class PluginInfo:
    name: str
    distribution: str
    version: str
    essential: bool
    blocked: bool


class HubPlugins:
    """The only way core code talks to plugins: one typed method per hook."""

    def __init__(
        self,
        pm: pluggy.PluginManager,
        blocked: frozenset[str],
        *,
        origins: dict[str, tuple[str, str]] | None = None,
        broken: Iterable[BrokenPlugin] = (),
        strict: bool = False,
        quiet: bool = False,
    ) -> None:
        self.pm = pm
        self.blocked = blocked
        self.origins = dict(origins or {})  # plugin name -> (distribution, version)
        self.broken: list[BrokenPlugin] = []
        self.strict = strict
        self.quiet = quiet
        self.channels = ChannelRegistry()
        self.payments = PaymentProviderRegistry()
        self.rules = RuleRegistry()
        self.devices = DeviceDriverRegistry()
        self.alert_sinks = AlertSinkRegistry()
        # the channel machinery comes in here, not at import (see `essential_plugins`)
        from hub.channels.schemes import (
            ChannelSpecRegistry,
            CodecRegistry,
            SignatureSchemeRegistry,
        )

        self.codecs: CodecRegistry = CodecRegistry()
        self.signature_schemes: SignatureSchemeRegistry = SignatureSchemeRegistry()
        self.channel_specs: ChannelSpecRegistry = ChannelSpecRegistry()
        self.stock_pushers = StockPusherRegistry()
        for b in broken:
            self._left_out(b)
        self._register_all()

    def _left_out(self, broken: BrokenPlugin) -> None:
        self.broken.append(broken)
        if not self.quiet:
            log.warning("%s", broken.line())

    def _third_party(self, name: str) -> tuple[str, str] | None:
        """(distribution, version) of an entry-point plugin not shipped with tickethub."""
        origin = self.origins.get(name)
        if origin is None or origin[0] == OWN_DISTRIBUTION:
            return None
        return origin

    # -- registration -------------------------------------------------------------------
    def _each_plugin(self, hook_name: str) -> Iterator[tuple[str, Callable[..., Any]]]:
        """(plugin name, caller) for each plugin implementing ``hook_name``, oldest first,
        so later (third-party) registrations see the built-ins already there.

        Each caller is pluggy's own (`PluginManager.subset_hook_caller`) with every other
        implementing plugin left out: hook-call monitoring
        (``pm.add_hookcall_monitoring``) and wrappers (``wrapper=True`` impls, which are
        never left out) see each plugin's call, and the registries still learn which
        plugin registered what, and can undo one plugin's half-done registrations."""
        hook = getattr(self.pm.hook, hook_name)
        impls = [i for i in hook.get_hookimpls() if not (i.wrapper or i.hookwrapper)]
        for impl in impls:
            others = [i.plugin for i in impls if i.plugin is not impl.plugin]
            caller = self.pm.subset_hook_caller(hook_name, remove_plugins=others)
            yield (self.pm.get_name(impl.plugin) or "?"), caller

    def _register_all(self) -> None:
        failed: set[str] = set()
        for hook_name, registry in (
            ("register_channels", self.channels),
            ("register_payment_providers", self.payments),
            ("register_rules", self.rules),
            ("register_device_drivers", self.devices),
            ("register_alert_sinks", self.alert_sinks),
            ("register_codecs", self.codecs),
            ("register_signature_schemes", self.signature_schemes),
            ("register_channel_specs", self.channel_specs),
            ("register_stock_pushers", self.stock_pushers),
        ):
            for name, call in self._each_plugin(hook_name):
                if name in failed:
                    continue
                registry._set_source(name)
                origin = self._third_party(name)
                if origin is None:
                    call(registry=registry)
                    continue
                before = _snapshot(registry)
                try:
                    call(registry=registry)
                except Exception as exc:
                    _restore(registry, before)
                    broken = BrokenPlugin(name, *origin, f"{hook_name} failed: {_reason(exc)}")
                    if self.strict:
                        raise PluginLoadError(broken.line()) from exc
                    failed.add(name)
                    self._left_out(broken)
        for name in failed:
            self._drop(name)

    def _drop(self, name: str) -> None:
        """Take a half-registered plugin out everywhere: its registrations (see
        `_register_all`) and its event hooks."""
        plugin = self.pm.get_plugin(name)
        if plugin is not None:
            self.pm.unregister(plugin, name=name)
        for registry in (
            self.channels,
            self.payments,
            self.rules,
            self.devices,
            self.alert_sinks,
            self.codecs,
            self.signature_schemes,
            self.channel_specs,
            self.stock_pushers,
        ):
            _forget(registry, name)

    @property
    def protocols(self) -> Protocols:
        """The codecs, signature schemes and spec files the plugins registered: what the
        generic channel machinery looks scheme names up in."""
        from hub.channels.schemes import Protocols

        return Protocols(self.codecs, self.signature_schemes, self.channel_specs)

    def add_event_listener(self, listener: object, name: str) -> None:
        """Register an object with event hookimpls after the build (spec-only channels:
        the hub creates them from settings, so no entry point knows them)."""
        self.pm.register(listener, name=name)
        self.pm.check_pending()

    def add_cli_commands(self, app: typer.Typer) -> None:
        """Each plugin's commands; a third-party plugin whose hook fails is left out."""
        for name, call in self._each_plugin("add_cli_commands"):
            if self._third_party(name) is None:
                call(app=app)
                continue
            try:
                call(app=app)
            except Exception as exc:
                origin = self._third_party(name) or ("?", "?")
                broken = BrokenPlugin(name, *origin, f"add_cli_commands failed: {_reason(exc)}")
                if self.strict:
                    raise PluginLoadError(broken.line()) from exc
                self._left_out(broken)

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

    def ticket_parts_refunded(
        self, order: Order, ticket: Ticket, parts: list[str], amount: int
    ) -> list[PartnerCall]:
        return self._calls(
            self.pm.hook.ticket_parts_refunded(
                order=order, ticket=ticket, parts=parts, amount=amount
            )
        )

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
        for name, plugin in self.pm.list_name_plugin():
            if plugin is None:
                continue
            dist, version = self.origins.get(name, ("tickethub (core)", own_version()))
            infos.append(
                PluginInfo(
                    name=name,
                    distribution=dist,
                    version=version,
                    essential=plugin in essential_plugins(),
                    blocked=False,
                )
            )
        for name in sorted(self.blocked):
            infos.append(PluginInfo(name, "-", "-", essential=False, blocked=True))
        return sorted(infos, key=lambda i: (i.blocked, i.name))


def own_version() -> str:
    """The installed tickethub's version (``tickethub --version``)."""
    try:
        return metadata.version(OWN_DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "0+unknown"


def build_plugins(
    *,
    blocked: Iterable[str] = (),
    extra: Iterable[object] = (),
    load_entry_points: bool = True,
    strict: bool = False,
    quiet: bool = False,
) -> HubPlugins:
    """Build the plugin manager of one application.

    :param blocked: entry-point names not to load (built-in or third-party).
    :param extra: plugin objects registered directly (tests, embedding applications);
        they are registered last, so they override entry-point plugins.
    :param strict: a broken third-party plugin is a `PluginLoadError` instead of a
        warning (a broken built-in always is).
    :param quiet: do not log the warnings (``HubPlugins.broken`` still lists them).
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    # Essential plugins cannot be blocked (pluggy's set_blocked would unregister them).
    essential = essential_plugins()
    blocked_set = frozenset(blocked) - {m.__name__ for m in essential}
    for module in essential:
        pm.register(module, name=module.__name__)
    for name in blocked_set:
        pm.set_blocked(name)
    origins: dict[str, tuple[str, str]] = {}
    broken: list[BrokenPlugin] = []
    if load_entry_points:
        _load_entry_points(pm, origins, broken, strict=strict)
    for plugin in extra:
        pm.register(plugin)
    pm.check_pending()
    return HubPlugins(pm, blocked_set, origins=origins, broken=broken, strict=strict, quiet=quiet)


def _load_entry_points(
    pm: pluggy.PluginManager,
    origins: dict[str, tuple[str, str]],
    broken: list[BrokenPlugin],
    *,
    strict: bool,
) -> None:
    """pluggy's ``load_setuptools_entrypoints``, one plugin at a time: import, register
    and validate each; a failure names the plugin and its distribution. Which plugins are
    installed is found once per state of the import path (`hub.plugin_entry_points`)."""
    for offer in offered_plugins(hookspecs.PROJECT):
        ep, dist_name, dist_version = offer.entry_point, offer.dist_name, offer.dist_version
        if pm.get_plugin(ep.name) is not None or pm.is_blocked(ep.name):
            continue
        try:
            plugin = ep.load()
            pm.register(plugin, name=ep.name)
        except Exception as exc:
            problem = BrokenPlugin(ep.name, dist_name, dist_version, _reason(exc))
            if strict or _normal(dist_name) == OWN_DISTRIBUTION:
                raise PluginLoadError(problem.line().replace(" and was left out", "")) from exc
            broken.append(problem)
            continue
        try:
            _check_hooks(pm, plugin)
        except pluggy.PluginValidationError as exc:
            pm.unregister(plugin, name=ep.name)
            problem = BrokenPlugin(ep.name, dist_name, dist_version, _reason(exc))
            if strict or _normal(dist_name) == OWN_DISTRIBUTION:
                raise PluginLoadError(problem.line().replace(" and was left out", "")) from exc
            broken.append(problem)
            continue
        origins[ep.name] = (_normal(dist_name), dist_version)


def _check_hooks(pm: pluggy.PluginManager, plugin: object) -> None:
    """``check_pending`` for one plugin: every hook it implements must be specified."""
    for caller in pm.get_hookcallers(plugin) or []:
        if caller.has_spec():
            continue
        for impl in caller.get_hookimpls():
            if impl.plugin is plugin and not impl.optionalhook:
                raise pluggy.PluginValidationError(
                    plugin, f"unknown hook {caller.name!r} (misspelt?)"
                )


def _normal(dist_name: str) -> str:
    return dist_name.strip().lower().replace("_", "-")


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _snapshot(registry: object) -> dict[str, Any]:
    return {k: v.copy() if isinstance(v, dict) else v for k, v in vars(registry).items()}


def _restore(registry: object, snapshot: dict[str, Any]) -> None:
    vars(registry).clear()
    vars(registry).update(snapshot)


def _forget(registry: object, source: str) -> None:
    """Remove what ``source`` registered (entries carry their plugin's name)."""
    for value in vars(registry).values():
        if isinstance(value, dict):
            for key in [k for k, e in value.items() if getattr(e, "source", None) == source]:
                del value[key]

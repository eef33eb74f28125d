"""The plugin contract as a plugin author and an operator see it.

Built-ins are found through the ``tickethub`` entry-point group like third-party packages,
can be blocked (except the essential one), and can be overridden; a misspelt hook fails at
start-up; event hooks' partner calls are collected by the typed facade.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Generator, Mapping, Sequence
from datetime import UTC, date, datetime
from importlib import metadata
from typing import TYPE_CHECKING, Any

import pluggy
import pytest
from typer.testing import CliRunner

import hub.essential_plugin
from hub import hookspecs
from hub.cli import app
from hub.cli import plugins as cli_plugins
from hub.plugins import HubPlugins, build_plugins
from hub.sdk import ChannelAdapter, Order, OrderLine, OrderState, PartnerCall, hookimpl
from hub.sdk.registries import RegistryError
from tests.plugins_fixture import echo_channel

if TYPE_CHECKING:
    from hub.sdk.registries import ChannelRegistry

BOXOFFICE = "channel_boxoffice"
ESSENTIAL = "hub.essential_plugin"


def _boxoffice_written() -> bool:
    """The entry point is declared in pyproject.toml; the package may still be an empty
    folder (a namespace package, which has no origin)."""
    spec = importlib.util.find_spec("plugins.channel_boxoffice")
    return spec is not None and spec.origin is not None


class ChannelPlugin:
    """A plugin object registering one channel adapter, named like a distribution would be
    (pluggy names an object by its ``__name__``), so registry errors can name it."""

    def __init__(self, plugin_name: str, channel: str, *, default: bool = False) -> None:
        self.__name__ = plugin_name
        self.channel = channel
        self.default = default
        self.adapter = echo_channel.EchoChannel()

    @hookimpl
    def register_channels(self, registry: ChannelRegistry) -> None:
        registry.add(self.channel, self.adapter, default=self.default)


class Auditor:
    """Another plugin answering ``order_confirmed``: one call for every order."""

    __name__ = "auditor"

    @hookimpl
    def order_confirmed(self, order: Order) -> list[PartnerCall] | None:
        return [PartnerCall("audit", "confirmed", f"audit:{order.id}", {"id": order.id})]


class Silent:
    """Observes ``order_confirmed`` and queues nothing (returns None)."""

    __name__ = "silent"

    @hookimpl
    def order_confirmed(self, order: Order) -> list[PartnerCall] | None:
        return None


class Misspelt:
    __name__ = "misspelt"

    @hookimpl
    def order_confirmd(self, order: Order) -> None:  # sic: no such hook
        return None


def _order(channel: str = echo_channel.CHANNEL) -> Order:
    return Order(
        id="o-1",
        channel=channel,
        partner_order_id="p-1",
        venue_id="v",
        state=OrderState.CONFIRMED,
        travel_date=date(2026, 5, 1),
        lines=(OrderLine(product_id="adult", quantity=1),),
        created_at=datetime(2026, 4, 30, tzinfo=UTC),
    )


@pytest.mark.skipif(not _boxoffice_written(), reason="channel_boxoffice not yet written")
def test_builtin_boxoffice_is_found_through_the_entry_point_group() -> None:
    plugins = build_plugins()
    assert plugins.pm.get_plugin(BOXOFFICE) is not None
    (info,) = [i for i in plugins.describe() if i.name == BOXOFFICE]
    assert info.distribution == "tickethub" and not info.blocked
    assert any(e.source == BOXOFFICE for e in plugins.channels)


def test_entry_point_plugins_can_be_left_out() -> None:
    plugins = build_plugins(load_entry_points=False)
    assert plugins.pm.get_plugin(BOXOFFICE) is None
    assert plugins.pm.get_plugin(ESSENTIAL) is not None


def test_blocking_a_builtin_by_name_keeps_it_out() -> None:
    plugins = build_plugins(blocked=[BOXOFFICE])
    assert plugins.pm.get_plugin(BOXOFFICE) is None
    assert plugins.pm.is_blocked(BOXOFFICE)
    assert not any(e.source == BOXOFFICE for e in plugins.channels)
    (info,) = [i for i in plugins.describe() if i.name == BOXOFFICE]
    assert info.blocked


def test_the_essential_plugin_cannot_be_blocked() -> None:
    plugins = build_plugins(blocked=[ESSENTIAL], load_entry_points=False)
    assert plugins.pm.get_plugin(ESSENTIAL) is hub.essential_plugin
    assert any(rule.source == ESSENTIAL for rule in plugins.rules)
    (info,) = [i for i in plugins.describe() if i.name == ESSENTIAL]
    assert info.essential and not info.blocked


def test_a_misspelt_hook_fails_loudly() -> None:
    with pytest.raises(pluggy.PluginValidationError, match="order_confirmd"):
        build_plugins(extra=[Misspelt()], load_entry_points=False)


def test_reference_plugin_registers_a_working_channel() -> None:
    plugins = build_plugins(extra=[echo_channel], load_entry_points=False)
    (entry,) = [e for e in plugins.channels if e.name == echo_channel.CHANNEL]
    assert entry.source == echo_channel.__name__ and not entry.default
    assert isinstance(entry.obj, ChannelAdapter)


async def test_reference_adapter_delivers_its_partner_calls() -> None:
    plugins = build_plugins(extra=[echo_channel], load_entry_points=False)
    (call,) = plugins.order_confirmed(_order())
    adapter = plugins.channels.get(call.partner)
    await adapter.deliver(call)
    assert isinstance(adapter, echo_channel.EchoChannel)
    assert adapter.delivered == [call]


@pytest.mark.parametrize("builtin_first", [True, False])
def test_third_party_overrides_a_default_builtin_whatever_the_order(builtin_first: bool) -> None:
    builtin = ChannelPlugin("tickethub_echo", "echo", default=True)
    third_party = ChannelPlugin("acme_echo", "echo")
    extra = [builtin, third_party] if builtin_first else [third_party, builtin]
    plugins = build_plugins(extra=extra, load_entry_points=False)
    assert plugins.channels.get("echo") is third_party.adapter
    (entry,) = list(plugins.channels)
    assert entry.source == "acme_echo" and not entry.default


def test_two_plugins_claiming_one_name_is_an_error_naming_both() -> None:
    first, second = ChannelPlugin("acme_echo", "echo"), ChannelPlugin("globex_echo", "echo")
    with pytest.raises(RegistryError, match="acme_echo") as raised:
        build_plugins(extra=[first, second], load_entry_points=False)
    assert "globex_echo" in str(raised.value)


def test_event_methods_collect_partner_calls_from_every_plugin() -> None:
    plugins = build_plugins(extra=[echo_channel, Auditor(), Silent()], load_entry_points=False)
    calls = plugins.order_confirmed(_order())
    assert sorted((c.partner, c.kind) for c in calls) == [
        ("audit", "confirmed"),
        ("echo", "issued"),
    ]
    # Another channel's order: echo stays quiet, the auditor still answers.
    assert [c.partner for c in plugins.order_confirmed(_order(channel="ctrip"))] == ["audit"]


def test_event_methods_return_an_empty_list_when_nobody_answers() -> None:
    plugins = build_plugins(extra=[Silent()], load_entry_points=False)
    assert plugins.order_confirmed(_order()) == []
    assert plugins.order_expired(_order()) == []


def test_cli_lists_plugins_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TICKETHUB_BLOCKED_PLUGINS", raising=False)
    result = CliRunner().invoke(app, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    (essential,) = [p for p in doc["plugins"] if p["name"] == ESSENTIAL]
    assert essential["version"] == metadata.version("tickethub")
    assert essential["essential"] is True and essential["blocked"] is False
    assert any(r["kind"] == "rule" and r["source"] == ESSENTIAL for r in doc["registrations"])
    assert all(set(r) == {"kind", "name", "source", "default"} for r in doc["registrations"])


def test_cli_shows_configured_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TICKETHUB_BLOCKED_PLUGINS", json.dumps([BOXOFFICE]))
    result = CliRunner().invoke(app, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    (boxoffice,) = [p for p in json.loads(result.stdout)["plugins"] if p["name"] == BOXOFFICE]
    assert boxoffice["blocked"] is True


def test_cli_tables_name_the_plugin_behind_each_registration(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def with_echo(*, blocked: list[str], **kw: Any) -> HubPlugins:
        return build_plugins(blocked=blocked, extra=[echo_channel], **kw)

    monkeypatch.setattr(cli_plugins, "build_plugins", with_echo)
    monkeypatch.setenv("COLUMNS", "200")
    result = CliRunner().invoke(app, ["plugins"])
    assert result.exit_code == 0, result.output
    assert ESSENTIAL in result.stdout
    (row,) = [line for line in result.stdout.splitlines() if " echo " in line]
    assert "channel" in row and echo_channel.__name__ in row


def test_the_shipped_pytest_fixture_loads_the_installed_plugins(hub_plugins: HubPlugins) -> None:
    """`hub_plugins` comes from the `pytest11` entry point, as plugin authors get it."""
    assert {"boxoffice", "agency", "ctrip"} <= set(hub_plugins.channels.names())
    assert "real_name" in hub_plugins.rules.names()


class RegisterWatcher:
    """A plugin wrapping ``register_channels`` (pluggy's new-style wrapper): it sees each
    plugin's registration go through, with the registry before and after."""

    __name__ = "register-watcher"

    def __init__(self) -> None:
        self.seen: list[tuple[list[str], list[str]]] = []

    @hookimpl(wrapper=True)
    def register_channels(self, registry: ChannelRegistry) -> Generator[None, None, None]:
        before = registry.names()
        result = yield
        self.seen.append((before, registry.names()))
        return result


def test_register_hooks_go_through_pluggy_so_wrappers_see_each_plugin() -> None:
    watcher = RegisterWatcher()
    plugins = build_plugins(
        load_entry_points=False,
        extra=[ChannelPlugin("first", "one"), ChannelPlugin("second", "two"), watcher],
    )
    assert plugins.channels.names() == ["one", "two"]
    # The wrapper ran around each plugin's registration, oldest first; it was not
    # called as a registration itself.
    assert watcher.seen == [([], ["one"]), (["one"], ["one", "two"])]
    assert [e.source for e in plugins.channels] == ["first", "second"]


def test_hookcall_monitoring_sees_every_register_call() -> None:
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    pm.register(hub.essential_plugin, name=ESSENTIAL)
    pm.register(ChannelPlugin("echo-plugin", echo_channel.CHANNEL))
    calls: list[tuple[str, list[str]]] = []

    def before(hook_name: str, impls: Sequence[pluggy.HookImpl], kwargs: Mapping[str, Any]) -> None:
        calls.append((hook_name, [i.plugin_name for i in impls]))

    def after(*_: object) -> None:
        return None

    undo = pm.add_hookcall_monitoring(before, after)
    try:
        plugins = HubPlugins(pm, frozenset())
    finally:
        undo()
    assert ("register_channels", ["echo-plugin"]) in calls
    assert ("register_rules", [ESSENTIAL]) in calls
    assert echo_channel.CHANNEL in plugins.channels

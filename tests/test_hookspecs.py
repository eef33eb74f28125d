"""The hook specifications ARE the plugin documentation, so they are checked like code.

Every hookspec pluggy finds in `hub.hookspecs` must have a docstring, document each
parameter with ``:param name:`` (and its result with ``:return:`` when it returns
something), and be fully annotated. Every event hook must have a method of the same
signature on the typed facade (`hub.plugins.HubPlugins`), and every ``register_*`` hook must
actually be called when an application is built.
"""

from __future__ import annotations

import ast
import importlib
import inspect
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pluggy
import pytest

from hub import hookspecs
from hub.plugins import HubPlugins, build_plugins


def collect_hookspecs(module: ModuleType) -> dict[str, Callable[..., Any]]:
    """Hook name → spec function, as pluggy itself sees the module (not by guessing names)."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(module)
    specs: dict[str, Callable[..., Any]] = {}
    for name, caller in vars(pm.hook).items():
        if isinstance(caller, pluggy.HookCaller) and caller.spec is not None:
            specs[name] = caller.spec.function
    return specs


def _is_none(annotation: object) -> bool:
    return annotation is None or annotation == "None" or annotation is type(None)


def hookspec_problems(name: str, fn: Callable[..., Any]) -> list[str]:
    """What is wrong with one hookspec's documentation and typing (empty: nothing)."""
    problems: list[str] = []
    doc = inspect.getdoc(fn) or ""
    if not doc.strip():
        problems.append(f"{name}: no docstring")
    sig = inspect.signature(fn)
    for param in sig.parameters.values():
        if f":param {param.name}:" not in doc:
            problems.append(f"{name}: parameter {param.name!r} lacks ':param {param.name}:'")
        if param.annotation is inspect.Parameter.empty:
            problems.append(f"{name}: parameter {param.name!r} has no type annotation")
    if sig.return_annotation is inspect.Signature.empty:
        problems.append(f"{name}: no return annotation")
    elif not _is_none(sig.return_annotation) and ":return:" not in doc:
        problems.append(f"{name}: returns {sig.return_annotation} but lacks ':return:'")
    return problems


def _type_checking_namespace(module: ModuleType) -> dict[str, Any]:
    """The module's globals plus what it imports under ``if TYPE_CHECKING:``, so string
    annotations can be resolved and a misspelt type name is caught."""
    namespace = dict(vars(module))
    tree = ast.parse(inspect.getsource(module))
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for stmt in node.body:
                if isinstance(stmt, ast.Import):
                    for alias in stmt.names:
                        namespace[alias.asname or alias.name] = importlib.import_module(alias.name)
                elif isinstance(stmt, ast.ImportFrom) and stmt.module:
                    imported = importlib.import_module(stmt.module)
                    for alias in stmt.names:
                        namespace[alias.asname or alias.name] = getattr(imported, alias.name)
    return namespace


SPECS = collect_hookspecs(hookspecs)


def test_hookspecs_are_found() -> None:
    assert {"register_channels", "register_rules", "order_confirmed"} <= set(SPECS)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_hookspec_is_documented_and_typed(name: str) -> None:
    assert hookspec_problems(name, SPECS[name]) == []


@pytest.mark.parametrize("name", sorted(SPECS))
def test_hookspec_annotations_name_real_types(name: str) -> None:
    namespace = _type_checking_namespace(hookspecs)
    inspect.get_annotations(SPECS[name], globals=namespace, eval_str=True)


@pytest.mark.parametrize("name", sorted(n for n in SPECS if not n.startswith("register_")))
def test_event_hook_has_a_typed_facade_method(name: str) -> None:
    """Core code calls hooks through `HubPlugins`, never ``pm.hook.x(...)``."""
    method = getattr(HubPlugins, name, None)
    assert method is not None, f"HubPlugins has no method {name}()"
    spec_params = list(inspect.signature(SPECS[name]).parameters)
    assert list(inspect.signature(method).parameters)[1:] == spec_params


def test_every_register_hook_is_called_when_an_application_is_built() -> None:
    called: list[str] = []
    register_hooks = sorted(n for n in SPECS if n.startswith("register_"))

    class Spy:
        __name__ = "spy"

    for hook in register_hooks:

        def impl(registry: object, _hook: str = hook) -> None:
            called.append(_hook)

        impl.__name__ = hook
        setattr(Spy, hook, staticmethod(hookspecs.hookimpl(impl)))

    build_plugins(extra=[Spy()], load_entry_points=False)
    assert sorted(called) == register_hooks


# -- the checker can fail ---------------------------------------------------------------


@hookspecs.hookspec
def register_widgets(registry, colour: str):  # type: ignore[no-untyped-def]
    pass


@hookspecs.hookspec
def widget_broken(widget: object) -> list[str] | None:
    """A widget broke.

    :param gadget: not the parameter's name.
    """


# Deliberately broken specs, in a module of their own as pluggy would read them.
BAD_SPECS = ModuleType("bad_hookspecs")
BAD_SPECS.register_widgets = register_widgets  # type: ignore[attr-defined]
BAD_SPECS.widget_broken = widget_broken  # type: ignore[attr-defined]


def test_checker_reports_an_undocumented_untyped_spec() -> None:
    specs = collect_hookspecs(BAD_SPECS)
    assert set(specs) == {"register_widgets", "widget_broken"}
    problems = [p for name, fn in sorted(specs.items()) for p in hookspec_problems(name, fn)]
    assert problems == [
        "register_widgets: no docstring",
        "register_widgets: parameter 'registry' lacks ':param registry:'",
        "register_widgets: parameter 'registry' has no type annotation",
        "register_widgets: parameter 'colour' lacks ':param colour:'",
        "register_widgets: no return annotation",
        "widget_broken: parameter 'widget' lacks ':param widget:'",
        "widget_broken: returns list[str] | None but lacks ':return:'",
    ]

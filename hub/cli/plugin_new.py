"""`tickethub plugin new channel|device|alert NAME`: a new plugin as a pip package.

The package is rendered from the files under ``hub/cli/plugin_templates/<kind>/`` with
`string.Template` (``$name``, ``${package}``…; ``$$`` is a dollar sign): a
``pyproject.toml`` whose ``tickethub`` entry point registers it, a working skeleton, tests
that run the conformance kit of its kind, and a README. ``common/`` is rendered for every
kind, then ``<kind>/``; a folder named ``PACKAGE`` becomes the plugin's import package and
``.tmpl`` is dropped from file names, which are templates too (``${name}.toml``).

The skeleton works as generated — its tests pass — so an author starts from green and
changes the protocol, not from a blank page (``docs/plugins.md`` is the guide).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from string import Template
from typing import Annotated

import typer

from hub.plugins import own_version

app = typer.Typer(no_args_is_help=True, help="Write a new plugin.")

NAME = re.compile(r"[a-z][a-z0-9_]{1,29}")
TEMPLATES = "plugin_templates"
PACKAGE_DIR = "PACKAGE"
COMMON = "common"  # rendered for every kind, before the kind's own files


class Kind(StrEnum):
    channel = "channel"
    device = "device"
    alert = "alert"


@dataclass(frozen=True, slots=True)
class PluginNames:
    """Every name a plugin of ``kind`` called ``name`` goes by."""

    kind: Kind
    name: str

    @property
    def distribution(self) -> str:
        return f"tickethub-{self.kind}-{self.name.replace('_', '-')}"

    @property
    def package(self) -> str:
        return f"tickethub_{self.kind}_{self.name}"

    @property
    def entry_point(self) -> str:
        return f"{self.kind}_{self.name}"

    def values(self) -> dict[str, str]:
        return {
            "kind": str(self.kind),
            "name": self.name,
            "NAME": self.name.upper(),
            "Name": "".join(part.capitalize() for part in self.name.split("_")),
            "distribution": self.distribution,
            "package": self.package,
            "entry_point": self.entry_point,
            "tickethub_version": own_version(),
        }


class PluginExists(Exception):
    pass


def _files(folder: Traversable, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], str]]:
    out: list[tuple[tuple[str, ...], str]] = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.is_dir():
            if entry.name != "__pycache__":
                out.extend(_files(entry, (*prefix, entry.name)))
        elif entry.name.endswith(".tmpl"):
            out.append(((*prefix, entry.name), entry.read_text(encoding="utf-8")))
    return out


def render(kind: Kind, name: str, into: Path) -> Path:
    """Write the plugin's package under ``into``; returns its folder. `ValueError` for a
    name that cannot be a Python package, `PluginExists` when the folder is there."""
    if not NAME.fullmatch(name):
        raise ValueError(
            f"plugin name {name!r}: use 2 to 30 lower-case letters, digits and _, starting "
            "with a letter (it becomes the registered name and part of the package name)"
        )
    names = PluginNames(kind, name)
    root = into / names.distribution
    if root.exists():
        raise PluginExists(f"{root} already exists: choose another name or --dir")
    values = names.values()
    templates = resources.files("hub.cli").joinpath(TEMPLATES)
    for parts, text in _files(templates / COMMON) + _files(templates / str(kind)):
        folders = (names.package if p == PACKAGE_DIR else p for p in parts[:-1])
        file = Template(parts[-1].removesuffix(".tmpl")).substitute(values)
        target = root.joinpath(*folders, file)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(Template(text).substitute(values), encoding="utf-8")
    return root


@app.callback()
def _group() -> None:
    """Write a new plugin."""


@app.command("new")
def new(
    kind: Annotated[Kind, typer.Argument(help="what the plugin adds", show_default=False)],
    name: Annotated[str, typer.Argument(help="its registered name, e.g. acme", show_default=False)],
    into: Annotated[Path, typer.Option("--dir", help="where to create the package folder")] = Path(
        "."
    ),
) -> None:
    """Write a pip-installable plugin package: pyproject.toml with the ``tickethub``
    entry point, a working skeleton, tests that run the conformance kit, a README."""
    try:
        root = render(kind, name, into)
    except (ValueError, PluginExists) as exc:
        typer.echo(f"tickethub plugin new: {exc}", err=True)
        raise typer.Exit(2) from None
    names = PluginNames(kind, name)
    typer.echo(f"wrote {root}")
    typer.echo(
        f"next: pip install -e {root} && cd {root} && python -m pytest\n"
        f"      tickethub plugins   # lists {names.entry_point} ({names.distribution})"
    )

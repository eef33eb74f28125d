"""Every third-party module the shipped code imports comes from a distribution that
``pyproject.toml`` declares, so a clean ``pip install tickethub`` has it.

A module that only arrives through another package's dependencies (``xmltodict``
through wechatpy) works today and breaks the day that package drops it. The conformance
kit in ``hub/testing/`` runs under pytest, so it may use the optional extras (``testing``);
everything else must be a plain dependency.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ("hub", "plugins", "hardware_bridge", "sandbox")
OWN = {*SHIPPED, "channel_specs", "tests"}
EXTRAS_ALLOWED_UNDER = ROOT / "hub" / "testing"


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_names(requirements: list[str]) -> set[str]:
    names = set()
    for req in requirements:
        m = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", req)
        assert m, f"unreadable requirement {req!r}"
        names.add(_normalize(m.group(1)))
    return names


def _imports(path: Path) -> set[str]:
    """Top-level names of the absolute imports in one module (all of them: those under
    ``if TYPE_CHECKING`` or inside functions are imported at some point too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return {n for n in found if n not in sys.stdlib_module_names and n not in OWN}


def test_every_third_party_import_is_a_declared_distribution() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runtime = _requirement_names(project["dependencies"])
    extras = set().union(
        *(_requirement_names(reqs) for reqs in project["optional-dependencies"].values())
    )
    providers = metadata.packages_distributions()
    problems: list[str] = []
    checked = 0
    for folder in SHIPPED:
        for path in sorted((ROOT / folder).rglob("*.py")):
            allowed = runtime | extras if path.is_relative_to(EXTRAS_ALLOWED_UNDER) else runtime
            for module in sorted(_imports(path)):
                checked += 1
                dists = {_normalize(d) for d in providers.get(module, [])}
                where = path.relative_to(ROOT)
                if not dists:
                    problems.append(f"{where}: {module!r} is not installed at all")
                elif not dists & allowed:
                    problems.append(f"{where}: {module!r} comes from {sorted(dists)}, not declared")
    assert checked > 50, "the walk found the imports"
    assert not problems, "\n".join(problems)

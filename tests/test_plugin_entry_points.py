"""Plugin discovery is done once per state of the import path, not once per application.

Reading every installed distribution's metadata cost about 0.4 s per `build_plugins`;
a second manager built over an unchanged path reuses what the first found, and a
package installed (or a directory put on the path) in between is still seen.
"""

from __future__ import annotations

import os
from importlib import metadata
from pathlib import Path

import pytest

from hub import hookspecs, plugin_entry_points
from hub.plugins import build_plugins


@pytest.fixture
def counted_scans(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many times the installed distributions were listed (from a clean slate)."""
    plugin_entry_points.forget()
    calls: list[int] = []
    real = metadata.distributions

    def counting(**kwargs: object) -> object:
        calls.append(1)
        return real(**kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(metadata, "distributions", counting)
    yield calls
    plugin_entry_points.forget()


def test_a_second_manager_does_not_scan_the_installed_packages_again(
    counted_scans: list[int],
) -> None:
    first = build_plugins(quiet=True)
    second = build_plugins(quiet=True)
    assert len(counted_scans) == 1
    # Same plugins, same origins, and still two separate managers.
    assert first.origins == second.origins
    assert "ctrip" in second.channels.names()
    assert first.pm is not second.pm
    assert first.channels is not second.channels


def _write_dist(site: Path, name: str) -> None:
    (site / f"{name}_plugin.py").write_text(
        "from hub.sdk import hookimpl\n@hookimpl\ndef order_confirmed(order):\n    return None\n",
        encoding="utf-8",
    )
    info = site / f"{name}-0.7.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.7\n", "utf-8")
    (info / "entry_points.txt").write_text(
        f"[{hookspecs.PROJECT}]\n{name} = {name}_plugin\n", "utf-8"
    )


def test_a_package_installed_between_two_managers_is_seen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, counted_scans: list[int]
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    assert "latecomer" not in build_plugins(quiet=True).origins
    # Installed into a directory already on the path: its modification time moves.
    before = os.stat(site).st_mtime_ns
    _write_dist(site, "latecomer")
    os.utime(site, ns=(before + 1_000_000_000, before + 1_000_000_000))
    assert build_plugins(quiet=True).origins["latecomer"] == ("latecomer", "0.7")
    assert len(counted_scans) == 2


def test_a_directory_put_on_the_path_is_seen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, counted_scans: list[int]
) -> None:
    build_plugins(quiet=True)
    site = tmp_path / "site"
    site.mkdir()
    _write_dist(site, "newcomer")
    monkeypatch.syspath_prepend(str(site))
    assert build_plugins(quiet=True).origins["newcomer"] == ("newcomer", "0.7")
    assert len(counted_scans) == 2

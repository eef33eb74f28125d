"""Which installed distributions offer ``tickethub`` plugins: found once, not per manager.

Every application (`hub.plugins.build_plugins`, one per hub, per venue bridge, per channel
rig) needs the list of entry points in the plugin group. Finding it means reading the
metadata of every installed distribution (``importlib.metadata.distributions()``: one
email-format parse per package, and one more for its version) — about 0.4 s for the ~150
packages of a development environment, which a test suite that builds an app per test
paid on every test, and a process that builds several apps paid several times.

What is installed changes only when something is installed or removed, or the import
path changes: the answer is kept per *state of the path* — ``sys.path`` itself plus the
modification time of each directory on it (installing or removing a package adds or
removes a ``*.dist-info`` directory there, which changes that time). Any change means a
fresh scan, so a package installed while a hub runs is seen by the next manager built,
as before. Only the immutable discovery result (entry-point descriptions and their
distributions' names and versions) is kept; loading and registering plugins is still
done per manager.
"""

from __future__ import annotations

import os
import sys
import threading
from dataclasses import dataclass
from importlib import metadata


@dataclass(frozen=True)
class Offered:
    """One entry point of the plugin group and the distribution that declares it."""

    entry_point: metadata.EntryPoint
    dist_name: str
    dist_version: str


_PathState = tuple[tuple[str, int], ...]
_lock = threading.Lock()
_cache: dict[str, tuple[_PathState, tuple[Offered, ...]]] = {}


def _path_state() -> _PathState:
    """``sys.path`` with each entry's modification time (-1: not a directory)."""
    state: list[tuple[str, int]] = []
    for entry in sys.path:
        try:
            mtime = os.stat(entry or ".").st_mtime_ns
        except (OSError, TypeError, ValueError):
            mtime = -1
        state.append((entry, mtime))
    return tuple(state)


def _scan(group: str) -> tuple[Offered, ...]:
    offered: list[Offered] = []
    for dist in metadata.distributions():
        eps = [ep for ep in dist.entry_points if ep.group == group]
        if not eps:
            continue
        dist_name = dist.metadata["name"] or "?"
        version = dist.version
        offered.extend(Offered(ep, dist_name, version) for ep in eps)
    return tuple(offered)


def offered_plugins(group: str) -> tuple[Offered, ...]:
    """The entry points of ``group`` in every installed distribution, in the order of
    ``importlib.metadata.distributions()`` (the order the plugins are registered in)."""
    state = _path_state()
    with _lock:
        hit = _cache.get(group)
        if hit is not None and hit[0] == state:
            return hit[1]
    found = _scan(group)
    with _lock:
        _cache[group] = (state, found)
    return found


def forget() -> None:
    """Drop what was found (the next call scans again)."""
    with _lock:
        _cache.clear()

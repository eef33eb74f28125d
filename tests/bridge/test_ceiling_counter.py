"""The in-park ceiling's running count (`hardware_bridge.ceiling.Ceiling._net_after`):
always what a recount of the log says, and a gate's check reads only the rows logged
since the previous check — not every row since the hub last answered, which grew with
the length of an outage. Work is measured in SQLite virtual-machine steps (a progress
handler), which load does not change, never in seconds."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hardware_bridge.ceiling import Ceiling
from hardware_bridge.store import BridgeStore

RECOUNT = (
    "SELECT coalesce(sum(CASE direction WHEN 'in' THEN 1 ELSE -1 END), 0) FROM log"
    " WHERE n > ? AND allow = 1 AND (ticket_id != '' OR kind = 'manual')"
)
_ids = itertools.count()


def _log(
    store: BridgeStore,
    rows: int,
    *,
    direction: str = "in",
    allow: bool = True,
    kind: str = "scan",
    ticket: str = "t1",
) -> None:
    store.db.executemany(
        "INSERT INTO log(id, kind, ticket_id, medium, direction, allow, at, offline)"
        " VALUES (?, ?, ?, 'qr', ?, ?, '2026-11-23T10:00:00+08:00', 1)",
        [(f"d{next(_ids)}", kind, ticket, direction, int(allow)) for _ in range(rows)],
    )


def _recount(store: BridgeStore, n: int) -> int:
    return int(store.db.execute(RECOUNT, (n,)).fetchone()[0])


def _steps(store: BridgeStore, work: Callable[[], Any]) -> int:
    """SQLite VM steps `work` takes (the handler runs every 10 steps)."""
    seen = [0]

    def tick() -> int:
        seen[0] += 10
        return 0

    store.db.set_progress_handler(tick, 10)
    try:
        work()
    finally:
        store.db.set_progress_handler(None, 10)
    return seen[0]


def _last(store: BridgeStore) -> int:
    return int(store.db.execute("SELECT max(n) FROM log").fetchone()[0])


def test_the_running_count_is_what_a_recount_says(tmp_path: Path) -> None:
    store = BridgeStore(tmp_path / "bridge.db", synchronous="OFF")
    ceiling = Ceiling(store)
    steps: list[Callable[[], None]] = [
        lambda: _log(store, 5),
        lambda: _log(store, 2, direction="out"),
        lambda: _log(store, 3, allow=False),  # refused: not inside
        lambda: _log(store, 2, kind="manual", ticket=""),  # let in without a ticket
        lambda: _log(store, 1, kind="scan", ticket=""),  # an unknown card: not counted
        lambda: _log(store, 4),
    ]
    anchor = 0
    for i, step in enumerate(steps):
        step()
        assert ceiling._net_after(anchor) == _recount(store, anchor), i
        if i == 2:  # the hub answered: counting starts again from a later row
            anchor = _last(store) - 4
            assert ceiling._net_after(anchor) == _recount(store, anchor)
    assert ceiling._net_after(0) == _recount(store, 0) == 5 - 2 + 2 + 4  # staff's count at 0
    assert Ceiling(store)._net_after(anchor) == ceiling._net_after(anchor)  # another reader


def test_a_gate_check_reads_only_the_rows_since_the_last_check(tmp_path: Path) -> None:
    store = BridgeStore(tmp_path / "bridge.db", synchronous="OFF")
    ceiling = Ceiling(store)
    ceiling.from_hub({"max_in_park": 100_000, "in_park": 0, "share": 100_000}, 0)
    _log(store, 3000)  # a long outage: the hub's last answer is 3000 rows back
    assert ceiling.check() is None  # counts them once
    _log(store, 1)

    per_check = _steps(store, ceiling.check)
    recount = _steps(store, lambda: _recount(store, 0))

    assert ceiling.status()["net_since"] == _recount(store, 0) == 3001
    assert recount > 3000  # the control: a recount visits every row since the answer
    assert per_check < 300, (per_check, recount)

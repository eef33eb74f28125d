"""The in-park ceiling at the gate: refuse an entry (``PARK_FULL``) when the venue's
safety limit is reached — online and offline alike, because the bridge decides either way.

What the bridge holds (meta ``ceiling``, from the hub at every sync round, see
`hub.redemptions.ceiling` for how the hub splits the room among bridges):
``max_in_park``, the venue's ``in_park`` then, this bridge's ``share`` of the headroom and
``n``, the last log row the hub had counted when it answered (every row up to it was
uploaded before the question). From then on the bridge counts itself: its admissions
minus its exits (scans with direction ``out`` — devices that report exits) logged after
``n``. An entry is refused when that net reaches the share.

Offline nothing changes but the age of the share: the bridge goes on with its last one,
and every exit it sees gives a place back. The shares of all bridges add up to at most
the room there was, so together they never pass the ceiling; alone, a bridge does not see
the exits at the others and may refuse early — that errs on the safe side.

Staff's count (``tickethub bridge count --set N``, meta ``ceiling_count``) replaces the
in-park figure at this bridge until the hub answers again: the share becomes this
bridge's part of ``max_in_park - N`` (the same fraction of the headroom it had). The
venue-wide correction is the admin API (``PUT /api/admin/venues/{id}/in-park``), which
every bridge picks up with its next round.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from hardware_bridge.store import BridgeStore
from hub.domain.errors import Denial, DenialCode

META = "ceiling"
COUNT_META = "ceiling_count"
PARK_FULL_REASON = "园区人数已满，请稍候入园 / Park full, please wait"


class Ceiling:
    def __init__(self, store: BridgeStore) -> None:
        self.store = store
        # The running net (`_net_after`): counted from log row `_anchor`, up to `_seen`.
        self._anchor: int | None = None
        self._seen = 0
        self._net = 0

    # -- what the hub said, what staff counted -------------------------------------------
    def synced_upto(self) -> int:
        """The last log row such that it and every row before it reached the hub."""
        row = self.store.db.execute(
            "SELECT (SELECT min(n) FROM log WHERE synced = 0), (SELECT max(n) FROM log)"
        ).fetchone()
        first_unsynced, last = row
        if first_unsynced is not None:
            return int(first_unsynced) - 1
        return int(last or 0)

    def from_hub(self, answer: Mapping[str, Any], n: int) -> None:
        """The hub's answer to a question asked when rows up to ``n`` were uploaded."""
        state = {
            "max_in_park": answer.get("max_in_park"),
            "in_park": int(answer.get("in_park") or 0),
            "share": answer.get("share"),
            "n": n,
        }
        with self.store.tx() as conn:
            self.store.set_meta(META, json.dumps(state), conn)
            conn.execute("DELETE FROM meta WHERE k = ?", (COUNT_META,))

    def set_count(self, count: int) -> dict[str, Any]:
        """Staff counted ``count`` visitors inside, now."""
        last = self.store.db.execute("SELECT max(n) FROM log").fetchone()[0]
        state = {"count": count, "n": int(last or 0)}
        self.store.set_meta(COUNT_META, json.dumps(state))
        return self.status()

    # -- the decision --------------------------------------------------------------------
    def _net_after(self, n: int) -> int:
        """Admissions minus exits logged after row ``n``, as a running counter: each call
        adds only the rows logged since the previous one (a range on the log's key,
        usually a row or two), so the gate's check costs the same in the tenth hour of an
        outage as in the first — summing every row since ``n`` grew with the outage. A
        new ``n`` (the hub answered, staff counted) starts the count afresh, once. Safe
        because the log is append-only and its rows never change what is counted here
        (only ``synced``); another `Ceiling` on the same store keeps its own count."""
        if self._anchor != n:
            self._anchor, self._seen, self._net = n, n, 0
        row = self.store.db.execute(
            "SELECT coalesce(sum(CASE WHEN allow = 1 AND (ticket_id != '' OR kind = 'manual')"
            " THEN (CASE direction WHEN 'in' THEN 1 ELSE -1 END) ELSE 0 END), 0), max(n)"
            " FROM log WHERE n > ?",
            (self._seen,),
        ).fetchone()
        if row[1] is not None:
            self._net += int(row[0])
            self._seen = int(row[1])
        return self._net

    def _limit(self) -> tuple[int | None, int, int]:
        """(room this bridge may fill, counted from log row n, staff's count or -1)."""
        hub = self.store.meta_json(META) or {}
        maximum = hub.get("max_in_park")
        if not maximum:
            return None, 0, -1
        share = hub.get("share")
        share = int(share) if share is not None else max(0, int(maximum) - hub["in_park"])
        staff = self.store.meta_json(COUNT_META)
        if staff is None:
            return share, int(hub.get("n", 0)), -1
        headroom = max(1, int(maximum) - int(hub.get("in_park", 0)))
        fraction = min(1.0, share / headroom)
        room = int(max(0, int(maximum) - int(staff["count"])) * fraction)
        return room, int(staff["n"]), int(staff["count"])

    def check(self) -> Denial | None:
        """None, or ``PARK_FULL`` when this bridge's room is used up."""
        room, n, _ = self._limit()
        if room is None or self._net_after(n) < room:
            return None
        return Denial(DenialCode.PARK_FULL, PARK_FULL_REASON, {"room": room})

    def status(self) -> dict[str, Any]:
        hub = self.store.meta_json(META) or {}
        room, n, staff = self._limit()
        net = self._net_after(n)
        return {
            "max_in_park": hub.get("max_in_park"),
            "hub_in_park": hub.get("in_park"),
            "staff_count": None if staff < 0 else staff,
            "share": room,
            "net_since": net,
            "room_left": None if room is None else max(0, room - net),
        }

"""Timed tickets on a controller that only knows dates: time profiles.

A card holds a from/to DATE; a ticket for the 09:00–11:00 slot would open the door all
day. UHPPOTE controllers have time profiles (ids 2–254: dates, weekdays, up to three
HH:MM segments) and a card's door permission may name one, so a single-day window gets a
profile of its own — one per (day, start, end), shared by every ticket of that slot —
and the door opens only inside it. Windows spanning several days stay whole days (the
controller cannot express "from 10:00 on day one to 17:00 on day three" in one profile).

Profiles of past days are reused when the 253 ids run out (their cards have expired with
them). The book is rebuilt from the controller at attach, so a restarted bridge never
redefines a profile cards still point at.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, time, timedelta, timezone
from typing import TYPE_CHECKING

from uhppoted import uhppote_async

from hub.sdk import DeviceError, GateCredential

if TYPE_CHECKING:
    from plugins.device_uhppote.calls import ControllerCalls
    from plugins.device_uhppote.state import ControllerState

log = logging.getLogger(__name__)

FIRST, LAST = 2, 254
ALL_DAY = 1  # the permission meaning "any time within the card's dates"

Key = tuple[date, time, time]


@dataclass(frozen=True, slots=True)
class Window:
    start: date
    end: date
    segment: tuple[time, time] | None  # None: whole days


def window(cred: GateCredential, tz: timezone) -> Window:
    """The card's dates (local, inclusive) and, for a single-day ticket that does not
    cover the whole day, its HH:MM segment."""
    begin = cred.valid_from.astimezone(tz)
    last = (cred.valid_until - timedelta(microseconds=1)).astimezone(tz)
    if begin.date() != last.date():
        return Window(begin.date(), last.date(), None)
    start, end = (
        begin.time().replace(second=0, microsecond=0),
        last.time().replace(second=0, microsecond=0),
    )
    if start == time(0, 0) and end == time(23, 59):
        return Window(begin.date(), last.date(), None)
    return Window(begin.date(), last.date(), (start, end))


@dataclass
class ProfileBook:
    """Which profile id holds which single-day window on one controller."""

    ids: dict[Key, int] = field(default_factory=dict)

    def find(self, key: Key) -> int | None:
        return self.ids.get(key)

    def allocate(self, key: Key, today: date) -> int | None:
        """A free id, else the id of a past day's profile; None when every id is in use
        for today or later (the caller falls back to whole days)."""
        used = {v: k for k, v in self.ids.items()}
        for candidate in range(FIRST, LAST + 1):
            if candidate not in used:
                self.ids[key] = candidate
                return candidate
        stale = min((k for k in self.ids if k[0] < today), default=None)
        if stale is None:
            return None
        candidate = self.ids.pop(stale)
        self.ids[key] = candidate
        return candidate

    def learn(self, profile_id: int, day: date, start: time, end: time) -> None:
        self.ids[(day, start, end)] = profile_id


async def ensure_profile(
    calls: ControllerCalls,
    client: uhppote_async.UhppoteAsync,
    state: ControllerState,
    key: Key,
    today: date,
) -> int:
    """The profile id of one day's window on this controller, defined on first use;
    `ALL_DAY` when every id is taken by today's or later windows."""
    if not state.profiles_loaded:
        await load_profiles(calls, client, state)
    found = state.profiles.find(key)
    if found is not None:
        return found
    profile_id = state.profiles.allocate(key, today)
    if profile_id is None:
        log.warning("uhppote: %s has no free time profile; whole day", state.config.serial)
        return ALL_DAY
    day, start, end = key
    week = [True] * 7
    reply = await calls.call(
        state.config,
        "set-time-profile",
        client.set_time_profile,
        profile_id,
        day,
        day,
        *week,
        start,
        end,
        None,
        None,
        None,
        None,
        0,
    )
    if not reply.stored:
        state.profiles.ids.pop(key, None)
        raise DeviceError(f"controller {state.config.serial} refused time profile {profile_id}")
    return profile_id


async def load_profiles(
    calls: ControllerCalls, client: uhppote_async.UhppoteAsync, state: ControllerState
) -> None:
    """Learn the single-day profiles already on the controller (ids are handed out in
    order, so the first empty id ends the list)."""
    for profile_id in range(FIRST, LAST + 1):
        p = await calls.call(state.config, "get-time-profile", client.get_time_profile, profile_id)
        if p.profile_id != profile_id or p.start_date is None:
            break
        if p.start_date == p.end_date and p.segment_1_start and p.segment_1_end:
            state.profiles.learn(profile_id, p.start_date, p.segment_1_start, p.segment_1_end)
    state.profiles_loaded = True

"""`hub.tasks.wait_event`: a background loop that sleeps until woken must end when it is
cancelled, even when the wake-up and the cancellation land in the same round. With
``asyncio.wait_for(event.wait(), …)`` on Python 3.11 the cancellation was swallowed and the
loop ran on, so a hub's teardown waited forever on its stock pusher (suites hung there)."""

from __future__ import annotations

import asyncio

from hub.tasks import wait_event

HANG_GUARD = 10.0  # a bound on a hang, not a speed check: a healthy cancel ends at once


async def _sleeper(event: asyncio.Event, rounds: list[int]) -> None:
    while True:
        await wait_event(event, 30)
        event.clear()
        rounds.append(1)


async def test_a_cancel_in_the_round_of_a_wake_up_ends_the_loop() -> None:
    event, rounds = asyncio.Event(), []
    task = asyncio.create_task(_sleeper(event, rounds))
    for _ in range(3):  # a few ordinary rounds
        event.set()
        await asyncio.sleep(0)
    # A stop's one cancel (as `cancel_and_wait` sends) in the same round as a wake-up (a stock
    # move just before a hub's teardown):
    event.set()
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=HANG_GUARD)
    assert done, "the loop swallowed its cancellation"
    assert task.cancelled() and rounds


async def test_it_says_whether_it_was_woken() -> None:
    event = asyncio.Event()
    assert await wait_event(event, 0) is False
    event.set()
    assert await wait_event(event, 30) is True
    assert await wait_event(asyncio.Event(), -1) is False  # a past deadline: no wait

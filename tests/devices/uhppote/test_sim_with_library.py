"""The `uhppoted` client itself, unmodified, against the simulated controller: proof that
the simulator speaks the real 64-byte protocol (and so that the driver is tested on it)."""

from __future__ import annotations

import asyncio
import socket
from datetime import date, datetime, time
from ipaddress import IPv4Address

import pytest
from uhppoted import errors, structs, uhppote_async

from sandbox.devices.uhppote import SimulatedController
from tests.devices.uhppote.conftest import SERIAL, until


def client(sim: SimulatedController, listen: str = "127.0.0.1:60001") -> uhppote_async.UhppoteAsync:
    return uhppote_async.UhppoteAsync(
        bind="127.0.0.1", broadcast=f"{sim.address[0]}:{sim.address[1]}", listen=listen
    )


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_discovery_controller_info_and_clock(controller: SimulatedController) -> None:
    u = client(controller)
    found = await u.get_all_controllers(timeout=0.3)
    assert [c.controller for c in found] == [SERIAL]
    info = await u.get_controller(SERIAL)  # broadcast address, as the CLI does
    assert info.ip_address == IPv4Address("127.0.0.1") and info.version == "v6.62"
    at = datetime(2026, 5, 1, 9, 30, 15)
    assert (await u.set_time(SERIAL, at)).datetime.replace(second=0) == at.replace(second=0)
    now = (await u.get_time(SERIAL)).datetime
    assert now.date() == at.date() and now.hour == 9
    addr = (SERIAL, f"{controller.address[0]}:{controller.address[1]}", "udp")
    assert (await u.get_controller(addr)).controller == SERIAL


async def test_cards_put_read_and_deleted(controller: SimulatedController) -> None:
    u = client(controller)
    put = await u.put_card(SERIAL, 10058400, date(2026, 1, 1), date(2026, 12, 31), 1, 0, 1, 0, 7531)
    assert put.stored and put.controller == SERIAL
    card = await u.get_card(SERIAL, 10058400)
    assert (card.card_number, card.start_date, card.end_date) == (
        10058400,
        date(2026, 1, 1),
        date(2026, 12, 31),
    )
    assert (card.door_1, card.door_2, card.door_3, card.door_4, card.pin) == (1, 0, 1, 0, 7531)
    record = await u.get_card_record(SERIAL, 10058400)
    assert isinstance(record, structs.Card) and record.permissions[1] == 1
    assert (await u.get_cards(SERIAL)).cards == 1
    with pytest.raises(errors.CardNotFound):
        await u.get_card_record(SERIAL, 999)
    assert (await u.delete_card(SERIAL, 10058400)).deleted
    await u.put_card(SERIAL, 1, date(2026, 1, 1), date(2026, 1, 2), 1, 1, 1, 1, 0)
    assert (await u.delete_all_cards(SERIAL)).deleted and controller.cards == {}


async def test_events_by_index_and_the_downloaded_index_register(
    controller: SimulatedController,
) -> None:
    u = client(controller)
    today = controller.local_now().date()
    await u.put_card(SERIAL, 555, today, today, 1, 1, 1, 1, 0)
    assert controller.swipe(555) and not controller.swipe(556, door=2, direction=2)
    first = await u.get_event_record(SERIAL, 1)
    assert (first.index, first.kind, first.card, first.access_granted) == (1, 1, 555, True)
    second = await u.get_event(SERIAL, 2)
    assert (second.card, second.access_granted, second.door, second.direction) == (556, False, 2, 2)
    assert second.reason == 6
    with pytest.raises(errors.EventNotFound):
        await u.get_event_record(SERIAL, 3)
    controller.forget_oldest(1)
    with pytest.raises(errors.EventOverwritten):
        await u.get_event_record(SERIAL, 1)
    status = await u.get_status(SERIAL)
    assert status.event_index == 2 and status.event_card == 556
    assert (await u.set_event_index(SERIAL, 2)).updated
    assert (await u.get_event_index(SERIAL)).event_index == 2
    assert (await u.open_door(SERIAL, 1)).opened and controller.door_opens[1] == 1


async def test_the_librarys_own_listener_receives_pushed_events(
    controller: SimulatedController,
) -> None:
    port = free_udp_port()
    u = client(controller, listen=f"127.0.0.1:{port}")
    assert (await u.set_listener(SERIAL, IPv4Address("127.0.0.1"), port)).ok
    listener = await u.get_listener(SERIAL)
    assert (str(listener.address), listener.port) == ("127.0.0.1", port)
    received: list[structs.Event] = []
    close = asyncio.Event()
    task = asyncio.create_task(u.listen(received.append, close=close))
    try:
        await until(lambda: controller.swipe(42) is False and bool(received), "a pushed event")
        event = received[0]
        assert (event.controller, event.event_card, event.event_access_granted) == (
            SERIAL,
            42,
            False,
        )
        assert event.event_index >= 1 and event.event_timestamp is not None
    finally:
        close.set()
        await task


async def test_a_controller_offline_answers_nothing(controller: SimulatedController) -> None:
    u = client(controller)
    controller.online = False
    with pytest.raises(TimeoutError):
        await u.get_controller(SERIAL, timeout=0.2)
    assert await u.get_all_controllers(timeout=0.2) == []
    controller.online = True
    assert (await u.get_controller(SERIAL, timeout=0.5)).controller == SERIAL


async def test_time_profiles_are_stored_read_back_and_bound_the_card(
    controller: SimulatedController,
) -> None:
    u = client(controller)
    today = controller.local_now().date()
    stored = await u.set_time_profile(
        SERIAL, 29, today, today, True, True, True, True, True, True, True,
        time(0, 1), time(0, 2), None, None, None, None, 0,
    )  # fmt: skip
    assert stored.stored
    profile = await u.get_time_profile(SERIAL, 29)
    assert (profile.profile_id, profile.start_date, profile.segment_1_start) == (
        29,
        today,
        time(0, 1),
    )
    assert profile.segment_2_start == time(0, 0) and profile.linked_profile_id == 0
    assert (await u.get_time_profile(SERIAL, 30)).profile_id == 0  # none there
    await u.put_card(SERIAL, 9001, today, today, 29, 0, 0, 0, 0)
    now = controller.local_now().time()
    inside = time(0, 1) <= now.replace(second=0, microsecond=0) <= time(0, 2)
    assert controller.swipe(9001) is inside  # only between 00:01 and 00:02
    assert inside or controller.events[-1].reason == 15

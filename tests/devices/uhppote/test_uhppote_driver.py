"""The UHPPOTE driver against the simulated controller over UDP on 127.0.0.1: onboarding,
tickets as cards, live events, outages caught up by index, bad packets."""

from __future__ import annotations

import logging
import socket
from datetime import UTC, date, datetime, time, timedelta, timezone
from importlib.metadata import entry_points

import pytest

from hub.clock import FixedClock
from hub.sdk import DeviceConfig, DeviceDriver, DeviceError, Direction, GateCredential, Medium
from hub.sdk.registries import DeviceDriverRegistry
from hub.testing.device_host import running_host
from plugins.device_uhppote.driver import UhppoteDriver
from sandbox.devices.uhppote import (
    EVENT_CARD,
    IN,
    OUT,
    REASON_SWIPE,
    Event,
    SimulatedController,
)
from tests.devices.uhppote.conftest import SERIAL, attached, config, driver_for, until

NOW = datetime.now(UTC)


def ticket(card: int, *, entries: int = 2, revoked: bool = False, days: int = 1) -> GateCredential:
    return GateCredential(
        ticket_id=f"t{card}",
        valid_from=NOW - timedelta(hours=1),
        valid_until=NOW + timedelta(days=days),
        entries_allowed=entries,
        card_no=card,
        revoked=revoked,
    )


def send_udp(packet: bytes, addr: tuple[str, int]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(packet, addr)


async def test_the_entry_point_registers_the_driver() -> None:
    (entry,) = [e for e in entry_points(group="tickethub") if e.name == "device_uhppote"]
    registry = DeviceDriverRegistry()
    entry.load().register_device_drivers(registry=registry)
    assert isinstance(UhppoteDriver(), DeviceDriver)  # the Protocol the bridge drives
    assert "uhppote" in registry and registry.get("uhppote") is UhppoteDriver


async def test_discovery_and_probe_read_the_serial(controller: SimulatedController) -> None:
    driver = driver_for(controller)
    async with running_host([driver]):
        found = await driver.discover(timeout=0.3)
        assert [(d.serial, d.firmware) for d in found] == [(str(SERIAL), "v6.62")]
        assert found[0].address == f"127.0.0.1:{controller.address[1]}"
        blank = DeviceConfig(id="new", vendor="uhppote", address=found[0].address)
        info = await driver.probe(blank)
        assert info.serial == str(SERIAL) and info.firmware == "v6.62" and info.clock is not None
        with pytest.raises(DeviceError, match="is 423187757, not 1"):
            await driver.probe(
                DeviceConfig(id="x", vendor="uhppote", address=found[0].address, serial="1")
            )
        with pytest.raises(DeviceError, match="is a number"):
            await driver.probe(DeviceConfig(id="x", vendor="uhppote", serial="ABC"))
        controller.online = False
        with pytest.raises(DeviceError, match="did not answer get-controller"):
            await driver.probe(blank)


async def test_attach_points_events_at_the_bridge_and_sets_the_clock(
    controller: SimulatedController,
) -> None:
    controller.clock_offset = timedelta(hours=-6)
    async with attached(controller) as (_host, driver, _device):
        assert controller.listener == driver.listen_address
        beijing = datetime.now(UTC).astimezone(timezone(timedelta(hours=8)))
        skew = controller.local_now() - beijing.replace(tzinfo=None)
        assert abs(skew) < timedelta(minutes=1)


async def test_tickets_become_cards_and_swipes_arrive_as_device_events(
    controller: SimulatedController,
) -> None:
    async with attached(controller, doors=[1, 2], gates={"2": "north-exit"}) as (host, drv, dev):
        await drv.push_credentials(dev, [ticket(1001), ticket(1002), ticket(1003, revoked=True)])
        card = controller.cards[1001]
        assert card.doors == (1, 1, 0, 0) and card.start <= date.today() + timedelta(days=1)
        assert card.end >= card.start and 1003 not in controller.cards
        assert controller.swipe(1001)
        assert not controller.swipe(424242, door=2, direction=OUT)
        await until(lambda: len(host.events) == 2, "two live events")
        granted = host.events[("wg-1", "1")]
        assert (granted.granted, granted.medium, granted.value) == (True, Medium.CARD, "1001")
        assert granted.gate == "north" and granted.direction is Direction.IN
        assert granted.at is not None and abs(granted.at - datetime.now(UTC)) < timedelta(minutes=1)
        denied = host.events[("wg-1", "2")]
        assert not denied.granted and denied.gate == "north-exit"
        assert denied.direction is Direction.OUT and denied.reason == "denied: no privilege"
        await drv.push_credentials(dev, [ticket(1002, revoked=True)])
        assert 1002 not in controller.cards and not controller.swipe(1002)


async def test_a_card_is_taken_off_the_controller_after_its_last_entry(
    controller: SimulatedController,
) -> None:
    async with attached(controller) as (_host, driver, device):
        await driver.push_credentials(device, [ticket(7, entries=1), ticket(8, entries=2)])
        assert controller.swipe(7) and controller.swipe(8)
        await until(lambda: 7 not in controller.cards, "single-entry card deleted")
        assert not controller.swipe(7)
        assert 8 in controller.cards and controller.swipe(8)
        await until(lambda: 8 not in controller.cards, "two-entry card deleted after two")


async def test_an_outage_backlog_is_caught_up_by_index_exactly_once(
    controller: SimulatedController,
) -> None:
    async with attached(controller) as (host, driver, device):
        await driver.push_credentials(device, [ticket(11, entries=9), ticket(12, entries=9)])
        assert controller.swipe(11)
        await until(lambda: len(host.events) == 1, "the live event")
        controller.online = False  # the controller's link is down: it goes on deciding
        assert controller.swipe(12) and controller.swipe(11) and not controller.swipe(13)
        assert len(host.events) == 1
        with pytest.raises(DeviceError, match="did not answer"):
            await driver.catch_up(device)
        controller.online = True
        assert await driver.catch_up(device) == 3
        assert sorted(int(k) for _, k in host.events) == [1, 2, 3, 4]
        assert controller.downloaded_index == 4 and driver.status("wg-1")["event_cursor"] == 4
        assert await driver.catch_up(device) == 0
        assert host.duplicates == 0


async def test_a_bridge_restart_resumes_from_the_controllers_register(
    controller: SimulatedController,
) -> None:
    async with attached(controller) as (host, _driver, _device):
        controller.swipe(1)
        await until(lambda: len(host.events) == 1, "the live event")
    assert controller.downloaded_index == 0  # live events leave the register to catch-up
    controller.listener = None  # the bridge is gone: events are only stored
    controller.swipe(2)
    controller.swipe(3)
    controller.downloaded_index = 1  # what an earlier catch-up had acknowledged
    async with attached(controller) as (host, driver, _device):
        assert sorted(k for _, k in host.events) == ["2", "3"]  # nothing before the register
        assert controller.downloaded_index == 3
        assert driver.status("wg-1")["event_cursor"] == 3


async def test_the_poll_notices_a_controller_that_came_back_and_reconfigures_it(
    controller: SimulatedController,
) -> None:
    async with attached(controller, poll_seconds=0.05) as (host, driver, _device):
        controller.online = False
        await until(lambda: not driver.status("wg-1")["online"], "controller seen offline")
        controller.swipe(21)
        controller.swipe(22)
        controller.listener = None  # it rebooted and forgot where to send events
        controller.online = True
        await until(lambda: len(host.events) == 2, "backlog caught up by the poll")
        assert controller.listener == driver.listen_address
        controller.swipe(23)
        await until(lambda: len(host.events) == 3, "live again")
        assert host.duplicates >= 0 and len({k for _, k in host.events}) == 3


async def test_overwritten_events_are_counted_as_lost_not_invented(
    controller: SimulatedController,
) -> None:
    async with attached(controller) as (host, driver, device):
        controller.online = False
        for card in (31, 32, 33):
            controller.swipe(card)
        controller.forget_oldest(2)
        controller.online = True
        assert await driver.catch_up(device) == 1
        assert [e.value for e in host.events.values()] == ["33"]
        assert driver.status("wg-1")["lost"] == 2


async def test_bad_packets_unknown_controllers_and_replays_never_stop_the_listener(
    controller: SimulatedController, caplog: pytest.LogCaptureFixture
) -> None:
    async with attached(controller) as (host, driver, _device):
        assert driver.listen_address is not None
        controller.swipe(41)
        await until(lambda: len(host.events) == 1, "first event")
        send_udp(b"\x17\x20short", driver.listen_address)
        send_udp(bytes(64), driver.listen_address)  # wrong start-of-message
        stranger = SimulatedController(99)
        stranger_packet = stranger._status_packet(0x20, None)
        stranger_packet[8] = 1  # an event index from a controller nobody onboarded
        send_udp(bytes(stranger_packet), driver.listen_address)
        replay = controller._status_packet(0x20, controller.events[0])
        send_udp(bytes(replay), driver.listen_address)  # the same event, pushed again
        await until(lambda: driver.malformed == 2 and driver.unknown == 1, "bad packets seen")
        await until(lambda: host.duplicates == 1, "replay recognised")
        forged = controller._status_packet(0x20, controller.events[0])
        forged[8] = 77  # a new index for the onboarded serial, from another machine
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.2", 0))
            s.sendto(bytes(forged), driver.listen_address)
        await until(lambda: driver.unknown == 2, "forged source refused")
        controller.swipe(42)
        await until(lambda: len(host.events) == 2, "the listener still works")
        assert "unknown controller 99" in caplog.text and "sent from 127.0.0.2" in caplog.text
        assert ("wg-1", "77") not in host.events


async def test_remote_open_and_a_pushed_event_hours_off_resyncs_the_clock(
    controller: SimulatedController, caplog: pytest.LogCaptureFixture
) -> None:
    async with attached(controller) as (host, driver, device):
        await driver.open_door(device, 2)
        assert controller.door_opens[2] == 1
        with pytest.raises(DeviceError, match="doors are 1 to 4"):
            await driver.open_door(device, 7)
        driver.resync_every = 0
        controller.clock_offset = timedelta(hours=3)  # the controller's clock drifted
        with caplog.at_level(logging.WARNING, logger="plugins.device_uhppote"):
            controller.swipe(51)
            await until(lambda: ("wg-1", "2") in host.events, "the swipe after the remote open")
            await until(lambda: abs(controller.clock_offset) < timedelta(minutes=1), "resync")
        assert "clock is +10" in caplog.text  # three hours, give or take a second
        assert 3 * 3600 - 60 < driver.status("wg-1")["clock_skew_seconds"] < 3 * 3600 + 60
        assert [e.value for e in host.events.values()] == ["51"]  # the remote open is no entry


async def test_a_ticket_without_a_card_number_is_not_pushed(
    controller: SimulatedController,
) -> None:
    async with attached(controller) as (_host, driver, device):
        no_number = ticket(1).model_copy(update={"card_no": None})
        await driver.push_credentials(device, [no_number])
        assert controller.cards == {}
        with pytest.raises(DeviceError, match="did not answer"):
            controller.online = False
            await driver.push_credentials(device, [ticket(5)])
    assert config(controller).serial == str(SERIAL)


async def test_a_taken_event_port_does_not_stop_the_bridge_and_onboarding_says_why(
    controller: SimulatedController,
) -> None:
    async with attached(controller) as (_host, first, _device):  # listening from now on
        assert first.listen_address is not None
        taken = f"127.0.0.1:{first.listen_address[1]}"
        second = UhppoteDriver(bind="127.0.0.1", listen=taken, timeout=1.5, poll_seconds=0)
        async with running_host([second]) as host:
            device = config(controller)
            host.add(device)
            assert (await second.probe(device)).serial == str(SERIAL)  # requests still work
            with pytest.raises(DeviceError, match="cannot listen for events"):
                await second.attach(device)
            assert second.listen_address is None and "cannot listen" in second.listen_error


async def test_a_timed_ticket_opens_only_inside_its_hours_through_a_time_profile(
    controller: SimulatedController,
) -> None:
    beijing = timezone(timedelta(hours=8))
    ten = datetime(2026, 11, 23, 10, 0, tzinfo=beijing)

    def slot(card: int, start: int, end: int) -> GateCredential:
        day = datetime(2026, 11, 23, tzinfo=beijing)
        return GateCredential(
            ticket_id=f"t{card}",
            valid_from=day + timedelta(hours=start),
            valid_until=day + timedelta(hours=end),
            card_no=card,
        )

    driver = driver_for(controller)
    async with running_host([driver], clock=FixedClock(ten)) as host:
        device = config(controller)
        host.add(device)
        await driver.attach(device)  # the controller's clock is set to 10:00 local
        await driver.push_credentials(device, [slot(1, 9, 11), slot(2, 9, 11), slot(3, 13, 15)])
        first, second, third = (controller.cards[n].doors[0] for n in (1, 2, 3))
        assert first == second == 2 and third == 3  # one profile per window, shared
        # valid until 11:00 means the last minute that opens is 10:59
        assert controller.profiles[2].segments == ((time(9, 0), time(10, 59)),)
        assert controller.swipe(1)
        assert not controller.swipe(3)  # its slot is this afternoon
        assert controller.events[-1].reason == 15
        await until(lambda: len(host.events) == 2, "both swipes reported")
        assert host.events[("wg-1", "2")].reason == "denied: outside the ticket's hours"
        controller.clock_offset += timedelta(hours=4)  # 14:00 at the door
        assert controller.swipe(3) and not controller.swipe(2)
    restarted = driver_for(controller)  # a new bridge process learns the profiles back
    async with running_host([restarted], clock=FixedClock(ten)) as host:
        host.add(device)
        await restarted.attach(device)
        defined = controller.requests[0x88]
        await restarted.push_credentials(device, [slot(4, 13, 15), slot(5, 16, 17)])
        assert controller.cards[4].doors[0] == 3 and controller.cards[5].doors[0] == 4
        assert controller.requests[0x88] == defined + 1  # only the new window was defined


async def test_a_pushed_event_the_controllers_own_log_does_not_hold_is_dropped(
    controller: SimulatedController,
) -> None:
    """UDP has no authentication and its source address is easy to forge: a packet in the
    controller's layout, with its serial, from its address, still only counts once the
    controller's log confirms it at that index."""
    async with attached(controller) as (host, driver, device):
        assert driver.listen_address is not None
        await driver.push_credentials(device, [ticket(61)])
        now = controller.local_now()
        invented = Event(1, EVENT_CARD, True, 1, IN, 61, now, REASON_SWIPE)  # never swiped
        send_udp(bytes(controller._status_packet(0x20, invented)), driver.listen_address)
        await until(lambda: driver.status("wg-1")["forged"] == 1, "invented index dropped")
        assert not controller.swipe(62)  # index 1 is now a refused swipe of card 62
        await until(lambda: ("wg-1", "1") in host.events, "the real event 1")
        altered = Event(1, EVENT_CARD, True, 1, IN, 61, now, REASON_SWIPE)  # index 1, rewritten
        send_udp(bytes(controller._status_packet(0x20, altered)), driver.listen_address)
        await until(lambda: driver.status("wg-1")["forged"] == 2, "altered event dropped")
        assert [(e.value, e.granted) for e in host.events.values()] == [("62", False)]
        assert 61 in controller.cards and controller.swipe(61)  # the card itself still works
        await until(lambda: ("wg-1", "2") in host.events, "the real swipe")
        assert host.events[("wg-1", "2")].granted and host.duplicates == 0


async def test_a_controller_onboarded_by_broadcast_is_heard_only_from_its_own_address(
    controller: SimulatedController,
) -> None:
    driver = driver_for(controller)
    device = DeviceConfig(id="wg-b", vendor="uhppote", serial=str(SERIAL), gate="b")
    async with running_host([driver]) as host:
        host.add(device)
        await driver.attach(device)  # no address: reached by broadcast
        assert driver.listen_address is not None
        assert driver.states["wg-b"].source_ip == controller.address[0]
        forged = controller._status_packet(
            0x20, Event(9, EVENT_CARD, True, 1, IN, 5, controller.local_now(), 1)
        )
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.2", 0))
            s.sendto(bytes(forged), driver.listen_address)
        await until(lambda: driver.unknown == 1, "refused from another address")
        controller.swipe(5)
        await until(lambda: len(host.events) == 1, "its own event heard")

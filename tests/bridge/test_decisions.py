"""Gate decisions at the bridge: the same credential check and rule engine as the hub,
from the bridge's cache, logged durably before the answer."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from hardware_bridge.runtime import Bridge
from hardware_bridge.store import card_candidate
from hub.domain.credentials import CredentialClaims, CredentialSigner, generate_keypair
from hub.domain.gate import Direction, Medium, Scan
from tests.bridge.conftest import AT
from tests.support import BOX, id_number, order

REALNAME = id_number("19900307", 123)


async def _sell(hub: TestClient, key: str, **over: Any) -> dict[str, Any]:
    status, body = await order(hub, key, confirm=True, **over)
    assert status == 201, body
    return body["order"]


def scan(value: str, medium: Medium = Medium.QR, **over: Any) -> Scan:
    return Scan(
        device_id=over.pop("device_id", "gate-1"),
        gate="north",
        medium=medium,
        value=value,
        **over,
    )


def logged(bridge: Bridge) -> list[Any]:
    return bridge.store.db.execute("SELECT * FROM log ORDER BY n").fetchall()


async def test_valid_qr_admits_once_and_is_logged_before_the_answer(
    hub: TestClient, bridge: Bridge
) -> None:
    sold = await _sell(hub, "o1")
    await bridge.link.sync_once()
    qr = sold["tickets"][0]["credential"]
    first = await bridge.host.decide(scan(qr))
    assert (first.allow, first.ticket_id, first.entries_left) == (
        True,
        sold["tickets"][0]["id"],
        0,
    )
    row = logged(bridge)[-1]
    assert (row["id"], row["allow"], row["synced"]) == (first.id, 1, 0)
    again = await bridge.host.decide(scan(qr))
    assert (again.allow, again.code) == (False, "ENTRIES_EXHAUSTED")
    # leaving is never refused, and counts no entry
    out = await bridge.host.decide(scan(qr, direction=Direction.OUT))
    assert out.allow
    assert bridge.store.entries(sold["tickets"][0]["id"], "2026-11-23")[1] == 1


async def test_forged_truncated_and_foreign_codes_are_refused(
    hub: TestClient, bridge: Bridge
) -> None:
    sold = await _sell(hub, "o1")
    qr = sold["tickets"][0]["credential"]
    private, _ = generate_keypair()
    forged = CredentialSigner(private).sign(
        CredentialClaims(
            ticket_id="00112233aabbccdd",
            product_id="adult",
            valid_from=AT - timedelta(hours=1),
            valid_until=AT + timedelta(hours=5),
            entries_allowed=9,
        )
    )
    tampered = qr[:-3] + ("AAA" if not qr.endswith("AAA") else "BBB")
    for value in (forged, qr[:40], tampered, "TH1.!!!", "TH1." + "A" * 200):
        decision = await bridge.host.decide(scan(value))
        assert (decision.allow, decision.code) == (False, "BAD_CREDENTIAL"), value
    unknown = await bridge.host.decide(scan("PAPER-0001"))
    assert (unknown.allow, unknown.code) == (False, "UNKNOWN_TICKET")
    # digits str.isdigit() takes and int() refuses: a refusal, not a crashed decision
    odd = await bridge.host.decide(scan("²", medium=Medium.NFC))
    assert (odd.allow, odd.code) == (False, "UNKNOWN_TICKET")
    stranger = await bridge.host.decide(scan(qr, device_id="not-onboarded"))
    assert (stranger.allow, stranger.code) == (False, "UNKNOWN_DEVICE")
    # refusals are logged too (every decision is)
    assert len(logged(bridge)) == 8


async def test_expired_and_not_yet_valid(hub: TestClient, bridge: Bridge) -> None:
    sold = await _sell(hub, "o1")
    await bridge.link.sync_once()
    qr = sold["tickets"][0]["credential"]
    clock = bridge.clock
    clock.set(AT + timedelta(days=3))  # type: ignore[attr-defined]
    late = await bridge.host.decide(scan(qr))
    assert (late.allow, late.code, late.reason) == (False, "NOT_VALID_TODAY", "Ticket has expired")
    clock.set(AT - timedelta(days=1))  # type: ignore[attr-defined]
    early = await bridge.host.decide(scan(qr))
    assert (early.allow, early.reason) == (False, "Ticket not valid yet")


async def test_revoked_after_sync(hub: TestClient, bridge: Bridge) -> None:
    sold = await _sell(hub, "o1")
    await bridge.link.sync_once()
    resp = await hub.post(f"/api/boxoffice/orders/{sold['id']}/refund", json={}, headers=BOX)
    assert resp.status == 200, await resp.text()
    qr = sold["tickets"][0]["credential"]
    await bridge.link.sync_once()
    decision = await bridge.host.decide(scan(qr))
    assert (decision.allow, decision.code) == (False, "TICKET_REVOKED")


async def test_sold_after_the_last_sync_opens_from_its_signature(
    hub: TestClient, bridge: Bridge
) -> None:
    sold = await _sell(hub, "o1")  # the bridge has not synced since
    qr = sold["tickets"][0]["credential"]
    assert bridge.store.ticket(sold["tickets"][0]["id"]) is None
    assert (await bridge.host.decide(scan(qr))).allow
    assert not (await bridge.host.decide(scan(qr))).allow  # counted locally all the same


async def test_id_card_admits_the_real_name_holder(hub: TestClient, bridge: Bridge) -> None:
    sold = await _sell(
        hub,
        "o1",
        product="realname",
        visitors=[{"name": "张三", "id_type": "id_card", "id_number": REALNAME}],
    )
    await bridge.link.sync_once()
    decision = await bridge.host.decide(scan(REALNAME.lower(), Medium.ID_CARD))
    assert (decision.allow, decision.ticket_id) == (True, sold["tickets"][0]["id"])
    again = await bridge.host.decide(scan(REALNAME, Medium.ID_CARD))
    assert (again.allow, again.code) == (False, "ENTRIES_EXHAUSTED")
    nobody = await bridge.host.decide(scan(id_number("19850101", 456), Medium.ID_CARD))
    assert (nobody.allow, nobody.code) == (False, "UNKNOWN_TICKET")


async def test_card_numbers_are_assigned_stable_and_unique(hub: TestClient, bridge: Bridge) -> None:
    sold = await _sell(hub, "o1", quantity=5)
    await bridge.link.sync_once()
    rows = bridge.store.tickets_by_ids(t["id"] for t in sold["tickets"])
    cards = {r["id"]: r["card_no"] for r in rows}
    assert len(set(cards.values())) == 5 and all(0 < c <= 0xFFFFFFFF for c in cards.values())
    await bridge.link.sync_once()  # a resync (or a change) keeps the numbers
    await hub.post(
        f"/api/boxoffice/orders/{sold['id']}/refund",
        json={"ticket_ids": [sold["tickets"][0]["id"]]},
        headers=BOX,
    )
    await bridge.link.sync_once()
    again = {r["id"]: r["card_no"] for r in bridge.store.tickets_by_ids(cards)}
    assert again == cards
    ticket = next(iter(cards))
    # a controller reports the card number; the bridge knows its ticket
    decision = await bridge.host.decide(scan(str(cards[sold["tickets"][1]["id"]]), Medium.CARD))
    assert (decision.allow, decision.ticket_id) == (True, sold["tickets"][1]["id"])
    # a collision is resolved by probing, never by sharing a number: a newcomer whose
    # first candidate is already held gets the next free number
    newcomer = "ffffffff00000001"
    bridge.store.db.execute(
        "UPDATE tickets SET card_no = ? WHERE id = ?", (card_candidate(newcomer), ticket)
    )
    bridge.store.apply_changes(
        [
            {
                "id": newcomer,
                "product_id": "adult",
                "valid_from": AT.isoformat(),
                "valid_until": (AT + timedelta(days=1)).isoformat(),
                "entries_allowed": 1,
                "state": "valid",
            }
        ],
        bridge.store.meta("cursor"),
    )
    clash = bridge.store.ticket(newcomer)
    assert clash is not None and clash["card_no"] == card_candidate(newcomer) % 0xFFFFFFFF + 1


async def test_device_clock_hours_off_is_recorded_not_refused(
    hub: TestClient, bridge: Bridge
) -> None:
    sold = await _sell(hub, "o1")
    await bridge.link.sync_once()
    skewed = AT - timedelta(hours=7)
    decision = await bridge.host.decide(scan(sold["tickets"][0]["credential"], at=skewed))
    assert decision.allow and decision.decided_at == AT
    row = logged(bridge)[-1]
    assert (row["at"], row["device_at"]) == (AT.isoformat(), skewed.isoformat())

"""Face enrollment through the staff API, on SQLite and PostgreSQL: stored encrypted in its
own table, marked in the bridge change feed (a version, never the photo), readable only
by the venue's bridge, replaced on re-enrollment, deleted with a refund, a cancellation,
a replaced visitor, a withdrawal and after the visit; every bad request a clear 4xx."""

from __future__ import annotations

import base64
import logging
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from hub.clock import FixedClock
from hub.domain import Visitor
from hub.faces import FaceCipher, key_from_settings
from tests.faces.jpegs import face_jpeg
from tests.faces.kit import (
    BRIDGE,
    TOKEN,
    bridge_photo,
    delete_face,
    face_rows,
    feed,
    put_face,
    sell_real_name,
    ticket_of,
    visitors,
)
from tests.support import ADMIN, BOX, T0, hub_client, hub_of, id_number, order, seed

PHOTO = face_jpeg(160, 200)


@pytest.fixture
async def hub(aiohttp_client: Any, db_url: str) -> TestClient:
    client = await hub_client(
        aiohttp_client, db_url, bridge_tokens={"v1": TOKEN, "v2": "bridge-token-v2"}
    )
    await seed(client)
    await client.put("/api/admin/venues/v2", json={"name": "Other Lake"}, headers=ADMIN)
    return client


def _face_of(page: dict[str, Any], ticket_id: str) -> Any:
    return next(t["face"] for t in page["tickets"] if t["id"] == ticket_id)


async def test_enrolled_face_is_encrypted_marked_in_the_feed_and_read_by_the_bridge(
    hub: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sold = await sell_real_name(hub, "f-1", 1, 2)
    first, second = ticket_of(sold, 0)["id"], ticket_of(sold, 1)["id"]
    before = await feed(hub)

    status, body = await put_face(hub, sold["id"], 0, PHOTO)
    assert status == 200, body
    assert (body["ticket_id"], body["visitor"]) == (first, 0)
    assert body["face"]["width"] == 160 and body["face"]["height"] == 200
    assert body["face"]["bytes"] == len(PHOTO) and body["face"]["replaced"] is False

    # At rest: its own table, encrypted, bound to its ticket.
    rows = await face_rows(hub)
    assert set(rows) == {first}
    stored = bytes(rows[first].photo)
    assert PHOTO not in stored and PHOTO[20:60] not in stored
    cipher = FaceCipher(key_from_settings("", hub_of(hub).settings.id_hash_secret))
    assert cipher.open(first, stored) == PHOTO
    with pytest.raises(ValueError, match="decrypt"):
        cipher.open(second, stored)  # copied onto another ticket's row it is useless

    # The feed: the ticket changed again, with a face version and no photo in the page.
    page = await feed(hub, before["cursor"])
    assert [t["id"] for t in page["tickets"]] == [first]
    version = _face_of(page, first)
    assert version == rows[first].version and len(version) == 32
    assert _face_of(await feed(hub), second) is None
    assert base64.b64encode(PHOTO[:30]).decode()[:30] not in str(page)

    # Only the venue's bridge reads the photo, and gets the version it belongs to.
    assert await bridge_photo(hub, first) == (200, PHOTO, version)
    assert (await bridge_photo(hub, first, headers={}))[0] == 401
    other = {"Authorization": "Bearer bridge-token-v2"}
    assert (await bridge_photo(hub, first, headers=other))[0] == 401  # v1's token only
    assert (await bridge_photo(hub, first, headers=other, venue="v2"))[0] == 404
    assert (await bridge_photo(hub, second))[0] == 404  # no face enrolled
    assert (await bridge_photo(hub, "x" * 40))[0] == 404

    # Re-enrolling replaces it under a new version.
    again = face_jpeg(240, 320)
    status, body = await put_face(hub, sold["id"], 0, again, headers=ADMIN)
    assert status == 200 and body["face"]["replaced"] is True
    page = await feed(hub, page["cursor"])
    assert [t["id"] for t in page["tickets"]] == [first] and _face_of(page, first) != version
    assert await bridge_photo(hub, first) == (200, again, _face_of(page, first))
    assert len(await face_rows(hub)) == 1

    # Faces are personal data: no log line carries one, in any encoding.
    text = "\n".join(r.getMessage() for r in caplog.records)
    for photo in (PHOTO, again):
        assert repr(photo)[:40] not in text
        assert base64.b64encode(photo).decode()[:40] not in text
        assert photo.hex()[:40] not in text


async def test_bad_requests_are_refused_with_a_clear_code(hub: TestClient) -> None:
    sold = await sell_real_name(hub, "f-2", 3)
    cases: list[tuple[str, int | str, bytes, int, str]] = [
        (sold["id"], 0, b"\x89PNG\r\n\x1a\n" + b"\x00" * 200, 400, "NOT_A_JPEG"),
        (sold["id"], 0, PHOTO[:-2], 400, "NOT_A_JPEG"),  # cut off: no EOI
        (sold["id"], 0, PHOTO[:2] + b"\xff\xe0\xff\xff" + PHOTO[6:], 400, "NOT_A_JPEG"),
        (sold["id"], 0, face_jpeg(48, 48), 422, "FACE_TOO_SMALL"),
        (sold["id"], 0, face_jpeg(padding=210 * 1024), 413, "FACE_TOO_LARGE"),
        (sold["id"], 0, b"", 400, "NOT_A_JPEG"),
        (sold["id"], 1, PHOTO, 404, "UNKNOWN_VISITOR"),
        (sold["id"], "first", PHOTO, 400, "INVALID_REQUEST"),
        ("no-such-order", 0, PHOTO, 404, "UNKNOWN_ORDER"),
    ]
    for order_id, index, photo, status, code in cases:
        got, body = await put_face(hub, order_id, index, photo)
        assert (got, body["code"]) == (status, code), (index, len(photo), body)
        assert body["message"]

    # An order not paid yet has no ticket to hold a face.
    status, held = await order(hub, "f-held", product="realname", quantity=1, visitors=visitors(4))
    assert status == 201 and held["order"]["state"] == "held"
    got, body = await put_face(hub, held["order"]["id"], 0, PHOTO)
    assert (got, body["code"]) == (409, "ORDER_NOT_CONFIRMED")

    # Not a real-name ticket: the visitor has no ticket of their own with an ID.
    status, plain = await order(
        hub, "f-plain", product="adult", quantity=1, visitors=[{"name": "Li"}], confirm=True
    )
    assert status == 201
    got, body = await put_face(hub, plain["order"]["id"], 0, PHOTO)
    assert (got, body["code"]) == (409, "NOT_REAL_NAME")

    # Staff only, and the JPEG itself as the body.
    got, body = await put_face(hub, sold["id"], 0, PHOTO, headers={})
    assert (got, body["code"]) == (401, "UNAUTHORIZED")
    form = aiohttp.FormData()
    form.add_field("photo", PHOTO, filename="face.jpg", content_type="image/jpeg")
    resp = await hub.put(f"/api/admin/orders/{sold['id']}/visitors/0/face", data=form, headers=BOX)
    assert resp.status == 415 and (await resp.json())["code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert await face_rows(hub) == {}


async def test_refund_cancel_and_a_replaced_visitor_delete_the_face_in_the_same_step(
    hub: TestClient,
) -> None:
    sold = await sell_real_name(hub, "f-3", 5, 6, 7)
    for index in range(3):
        assert (await put_face(hub, sold["id"], index, PHOTO))[0] == 200
    refunded = ticket_of(sold, 0)["id"]
    cursor = (await feed(hub))["cursor"]

    resp = await hub.post(
        f"/api/boxoffice/orders/{sold['id']}/refund", json={"ticket_ids": [refunded]}, headers=BOX
    )
    assert resp.status == 200, await resp.text()
    assert refunded not in await face_rows(hub)
    page = await feed(hub, cursor)
    assert [(t["id"], t["state"], t["face"]) for t in page["tickets"]] == [
        (refunded, "revoked", None)
    ]
    assert (await bridge_photo(hub, refunded))[0] == 404
    got, body = await put_face(hub, sold["id"], 0, PHOTO)
    assert (got, body["code"]) == (409, "TICKET_NOT_VALID")

    # A visitor replaced on the roster: the leaver's face goes with their ticket.
    hub_service = hub_of(hub).orders
    newcomer = Visitor(name="新人", id_number=id_number("19850101", 8))
    outcome = await hub_service.replace_visitors(sold["id"], {1: newcomer})
    assert outcome.ok, outcome.body
    assert set(await face_rows(hub)) == {ticket_of(sold, 2)["id"]}

    # Cancelling what is left of a paid order (nothing used): the last face goes too.
    other = await sell_real_name(hub, "f-4", 9)
    assert (await put_face(hub, other["id"], 0, PHOTO))[0] == 200
    resp = await hub.post(f"/api/boxoffice/orders/{other['id']}/cancel", headers=BOX)
    assert resp.status == 200, await resp.text()
    assert ticket_of(other, 0)["id"] not in await face_rows(hub)


async def test_a_withdrawn_face_is_deleted_and_the_feed_says_so(hub: TestClient) -> None:
    sold = await sell_real_name(hub, "f-5", 10)
    ticket = ticket_of(sold, 0)["id"]
    assert (await put_face(hub, sold["id"], 0, PHOTO))[0] == 200
    cursor = (await feed(hub))["cursor"]
    assert (await delete_face(hub, sold["id"], 0))["removed"] is True
    assert await face_rows(hub) == {}
    page = await feed(hub, cursor)
    assert [(t["id"], t["face"]) for t in page["tickets"]] == [(ticket, None)]
    assert (await bridge_photo(hub, ticket))[0] == 404
    assert (await delete_face(hub, sold["id"], 0))["removed"] is False  # nothing left


async def test_faces_are_purged_after_the_visit(hub: TestClient) -> None:
    used = await sell_real_name(hub, "f-6", 11)
    later = await sell_real_name(hub, "f-7", 12)
    for sold in (used, later):
        assert (await put_face(hub, sold["id"], 0, PHOTO))[0] == 200
    service = hub_of(hub).faces
    assert await service.purge() == 0  # both visits still to come

    # The first visitor enters (the bridge's upload uses the ticket up).
    resp = await hub.post(
        "/api/bridge/venues/v1/redemptions",
        json={
            "bridge": "b1",
            "redemptions": [
                {
                    "id": "b1-face-1",
                    "ticket_id": ticket_of(used, 0)["id"],
                    "gate": "south",
                    "device": "hik-1",
                    "medium": "face",
                    "at": (T0 + timedelta(days=1)).isoformat(),
                    "accepted": True,
                    "kind": "device",
                }
            ],
        },
        headers=BRIDGE,
    )
    assert resp.status == 200, await resp.text()
    assert await service.purge() == 1
    assert set(await face_rows(hub)) == {ticket_of(later, 0)["id"]}

    # The day after the visit nobody needs the second face either.
    clock = hub_of(hub).clock
    assert isinstance(clock, FixedClock)
    clock.advance(days=3)
    assert (await bridge_photo(hub, ticket_of(later, 0)["id"]))[0] == 404
    assert await service.purge() == 1 and await face_rows(hub) == {}
    got, body = await put_face(hub, later["id"], 0, PHOTO)
    assert (got, body["code"]) == (409, "TICKET_NOT_VALID")

"""Face enrollment from the mini-program against the WeChat simulator, on SQLite and
PostgreSQL: only the order's owner, only a paid real-name order, only a JPEG a terminal
takes; a refund through WeChat deletes the face."""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import Any

from sandbox.demo.wechat_client import MiniProgramClient, Reply
from tests.faces.jpegs import face_jpeg
from tests.faces.kit import face_rows
from tests.wechat.kit import SLOT, World, real_name, start

PHOTO = face_jpeg(180, 240)


async def put_face(
    w: World, mp: MiniProgramClient, out_trade: str, index: Any, photo: bytes
) -> Reply:
    headers = {"Content-Type": "image/jpeg"}
    if mp.token:
        headers["Authorization"] = f"Bearer {mp.token}"
    resp = await w.client.put(
        f"/api/wechat/orders/{out_trade}/visitors/{index}/face", data=photo, headers=headers
    )
    return Reply(resp.status, await resp.json())


async def paid_order(w: World, mp: MiniProgramClient, key: str, *seqs: int) -> dict[str, Any]:
    created = await mp.order(key, "realname", w.day, SLOT, len(seqs), [real_name(s) for s in seqs])
    assert created.status == 201, created
    notice = await (await w.pay(created)).wait()
    assert notice.acknowledged
    got = await mp.get(created.body["order"]["out_trade_no"])
    assert got.order["state"] == "confirmed", got
    return got.order


async def test_a_visitor_enrolls_a_face_for_their_own_paid_order(
    aiohttp_client: Any, db_url: str, stack: AsyncExitStack
) -> None:
    w = await start(aiohttp_client, db_url, stack)
    mp = await w.visitor("o-face-1")
    order = await paid_order(w, mp, "ck-face-0001", 21, 22)
    out_trade = order["out_trade_no"]

    done = await put_face(w, mp, out_trade, 1, PHOTO)
    assert done.status == 200, done
    ticket = done.body["ticket_id"]
    assert ticket in {t["id"] for t in order["tickets"]}
    assert (done.body["out_trade_no"], done.body["visitor"]) == (out_trade, 1)
    assert (done.body["face"]["width"], done.body["face"]["height"]) == (180, 240)
    rows = await face_rows(w.client)
    assert set(rows) == {ticket} and rows[ticket].source == "wechat"

    # The refund the visitor asks for through WeChat takes the face with the ticket.
    refunded = await mp.refund(out_trade, "rf-face-1", [ticket])
    assert refunded.ok, refunded
    assert await face_rows(w.client) == {}
    again = await put_face(w, mp, out_trade, 1, PHOTO)
    assert (again.status, again.code) == (409, "TICKET_NOT_VALID")


async def test_the_mini_program_refuses_what_it_must(
    aiohttp_client: Any, db_url: str, stack: AsyncExitStack
) -> None:
    w = await start(aiohttp_client, db_url, stack)
    alice = await w.visitor("o-face-alice")
    order = await paid_order(w, alice, "ck-face-0002", 23)
    out_trade = order["out_trade_no"]
    bob = await w.visitor("o-face-bob")
    held = await bob.order("ck-face-0003", "realname", w.day, SLOT, 1, [real_name(24)])
    assert held.status == 201 and held.body["order"]["state"] == "held"
    nobody = MiniProgramClient(w.client)

    cases = [
        (bob, out_trade, 0, PHOTO, 404, "UNKNOWN_ORDER"),  # someone else's order
        (nobody, out_trade, 0, PHOTO, 401, "LOGIN_REQUIRED"),
        (alice, out_trade, 3, PHOTO, 404, "UNKNOWN_VISITOR"),
        (alice, out_trade, "-1", PHOTO, 400, "INVALID_REQUEST"),
        (alice, out_trade, 0, b"<html>not a photo</html>", 400, "NOT_A_JPEG"),
        (alice, out_trade, 0, face_jpeg(padding=300 * 1024), 413, "FACE_TOO_LARGE"),
        (alice, out_trade, 0, face_jpeg(32, 32), 422, "FACE_TOO_SMALL"),
        (bob, held.body["order"]["out_trade_no"], 0, PHOTO, 409, "ORDER_NOT_CONFIRMED"),
    ]
    for mp, trade, index, photo, status, code in cases:
        got = await put_face(w, mp, trade, index, photo)
        assert (got.status, got.code) == (status, code), (trade, index, got)
        assert got.body["message"]
    assert await face_rows(w.client) == {}

    assert (await put_face(w, alice, out_trade, 0, PHOTO)).status == 200
    resp = await w.client.delete(
        f"/api/wechat/orders/{out_trade}/visitors/0/face",
        headers={"Authorization": f"Bearer {bob.token}"},
    )
    assert resp.status == 404  # Bob cannot withdraw Alice's face either
    resp = await w.client.delete(
        f"/api/wechat/orders/{out_trade}/visitors/0/face",
        headers={"Authorization": f"Bearer {alice.token}"},
    )
    assert resp.status == 200 and (await resp.json())["removed"] is True
    assert await face_rows(w.client) == {}

"""A face from enrollment to the turnstile and back, on SQLite and PostgreSQL: the visitor
enrolls in the mini-program (WeChat simulator), the venue bridge syncs and fetches the
photo, the simulated Hikvision terminal holds it in its face library, a face match
admits once and reaches the hub as the ticket's entry; a replaced, withdrawn or refunded
face leaves the hub, the bridge and the terminal."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from hardware_bridge.faces import FaceCache
from hardware_bridge.runtime import Bridge
from hub.clock import ShiftedClock
from hub.storage.tables import RedemptionRow
from plugins.device_hikvision.driver import HikvisionDriver
from sandbox.demo.wechat_client import MiniProgramClient
from sandbox.devices.hikvision import HikTerminal
from tests.bridge.conftest import bridge_settings
from tests.faces.jpegs import face_jpeg
from tests.faces.kit import TOKEN, face_rows
from tests.faces.test_wechat_faces import paid_order, put_face
from tests.support import ADMIN, hub_of
from tests.wechat.kit import World, start


@dataclass
class Venue:
    w: World
    mp: MiniProgramClient
    bridge: Bridge
    terminal: HikTerminal

    def card(self, ticket_id: str) -> str:
        row = self.bridge.store.ticket(ticket_id)
        assert row is not None
        return str(row["card_no"])

    def person(self, ticket_id: str) -> Any:
        return self.terminal.persons.get(self.card(ticket_id))

    def bridge_faces(self) -> dict[str, str]:
        return FaceCache(self.bridge.store).held()


@asynccontextmanager
async def venue(
    aiohttp_client: Any, db_url: str, stack: AsyncExitStack, tmp_path: Path
) -> AsyncIterator[Venue]:
    w = await start(aiohttp_client, db_url, stack)
    hub_of(w.client).settings.bridge_tokens["v1"] = TOKEN  # the operator's venue token
    at = datetime.combine(date.fromisoformat(w.day), time(2, 0), UTC)  # 10:00 China time
    terminal = HikTerminal()
    await terminal.start()
    stack.push_async_callback(terminal.close)
    async with aiohttp.ClientSession() as http:
        bridge = Bridge(
            bridge_settings(str(w.client.make_url("")), tmp_path / "bridge.db"),
            http,
            clock=ShiftedClock(at),
            drivers={"hikvision": HikvisionDriver()},
        )
        await bridge.start_drivers()
        app = web.Application()
        app.router.add_routes(bridge.host.routes.table)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        try:
            await bridge.start(sync=False)
            await bridge.link.pull_config()
            await bridge.link.sync_once()
            await bridge.host.add_device(
                "hikvision",
                device_id="hik-south",
                address=terminal.base_url,
                gate="south",
                options={
                    "user": terminal.user,
                    "password": terminal.password,
                    "event_url": str(server.make_url("")).rstrip("/"),
                },
            )
            yield Venue(w, await w.visitor("o-gate"), bridge, terminal)
        finally:
            await bridge.stop()
            bridge.close()
            await server.close()


async def test_a_face_enrolled_in_the_mini_program_admits_once_and_reaches_the_hub(
    aiohttp_client: Any, db_url: str, stack: AsyncExitStack, tmp_path: Path
) -> None:
    photo = face_jpeg(200, 260)
    async with venue(aiohttp_client, db_url, stack, tmp_path) as v:
        order = await paid_order(v.w, v.mp, "ck-gate-0001", 41, 42)
        enrolled = await put_face(v.w, v.mp, order["out_trade_no"], 0, photo)
        assert enrolled.status == 200, enrolled
        face_ticket = enrolled.body["ticket_id"]
        other = next(t["id"] for t in order["tickets"] if t["id"] != face_ticket)

        await v.bridge.link.sync_once()
        assert set(v.bridge_faces()) == {face_ticket}
        assert v.person(face_ticket).face == photo  # in the terminal's face library
        assert v.person(other) is not None and v.person(other).face is None

        assert not await v.terminal.present_face(v.card(other))  # no face enrolled
        assert await v.terminal.present_face(v.card(face_ticket))
        rows = v.bridge.store.db.execute(
            "SELECT kind, medium, allow, ticket_id FROM log WHERE device = 'hik-south' ORDER BY n"
        ).fetchall()
        assert [tuple(r) for r in rows] == [
            ("device", "face", 0, other),  # the terminal knew the person, not the face
            ("device", "face", 1, face_ticket),
        ]

        await v.bridge.link.sync_once()  # up: the entry; down: the ticket is used up
        got = await v.mp.get(order["out_trade_no"])
        states = {t["id"]: t["state"] for t in got.order["tickets"]}
        assert states == {face_ticket: "used", other: "valid"}
        async with hub_of(v.w.client).engine.connect() as conn:
            red = RedemptionRow.__table__.c
            recorded = (
                await conn.execute(
                    select(red.ticket_id, red.medium, red.counted).where(red.accepted)
                )
            ).all()
        assert [tuple(r) for r in recorded] == [(face_ticket, "face", True)]
        flow = await v.w.client.get(f"/api/admin/flow?venue=v1&date={v.w.day}", headers=ADMIN)
        assert (await flow.json())["entries"] == 1

        # Once: the used ticket left the terminal with its face, and the bridge's copy.
        assert v.person(face_ticket) is None
        assert not await v.terminal.present_face(v.card(face_ticket))
        assert v.bridge_faces() == {}
        assert await hub_of(v.w.client).faces.purge() == 1  # the hub's, after the visit
        assert await face_rows(v.w.client) == {}


async def test_replaced_withdrawn_and_refunded_faces_leave_hub_bridge_and_terminal(
    aiohttp_client: Any, db_url: str, stack: AsyncExitStack, tmp_path: Path
) -> None:
    first, second = face_jpeg(200, 260), face_jpeg(300, 400)
    async with venue(aiohttp_client, db_url, stack, tmp_path) as v:
        order = await paid_order(v.w, v.mp, "ck-gate-0002", 43)
        out_trade, (ticket,) = order["out_trade_no"], [t["id"] for t in order["tickets"]]

        assert (await put_face(v.w, v.mp, out_trade, 0, first)).status == 200
        await v.bridge.link.sync_once()
        assert v.person(ticket).face == first

        assert (await put_face(v.w, v.mp, out_trade, 0, second)).status == 200
        await v.bridge.link.sync_once()
        assert v.person(ticket).face == second  # replaced on the terminal too
        assert v.bridge_faces() == {ticket: (await face_rows(v.w.client))[ticket].version}

        withdrawn = await v.w.client.delete(
            f"/api/wechat/orders/{out_trade}/visitors/0/face",
            headers={"Authorization": f"Bearer {v.mp.token}"},
        )
        assert withdrawn.status == 200
        await v.bridge.link.sync_once()
        assert v.bridge_faces() == {}
        person = v.person(ticket)
        assert person is not None and person.face is None  # the ticket stays, its card too
        assert not await v.terminal.present_face(v.card(ticket))
        assert await v.terminal.present_card(v.card(ticket)) is True

        # A fresh enrollment, then the refund: gone everywhere.
        await v.bridge.link.sync_once()  # the card entry above is now the hub's too
        order2 = await paid_order(v.w, v.mp, "ck-gate-0003", 44)
        out2, (ticket2,) = order2["out_trade_no"], [t["id"] for t in order2["tickets"]]
        assert (await put_face(v.w, v.mp, out2, 0, first)).status == 200
        await v.bridge.link.sync_once()
        assert v.person(ticket2).face == first
        refunded = await v.mp.refund(out2, "rf-gate-1")
        assert refunded.ok, refunded
        assert await face_rows(v.w.client) == {}  # at the hub, with the refund itself
        await v.bridge.link.sync_once()
        assert v.bridge_faces() == {}
        assert v.person(ticket2) is None
        assert not await v.terminal.present_face(v.card(ticket2))

"""Helpers of the face tests: a hub with a bridge token, real-name sales, the face row."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import select

from hub.storage.tables import FaceRow
from tests.support import ADMIN, BOX, hub_of, id_number, order

TOKEN = "bridge-token-v1"
BRIDGE = {"Authorization": f"Bearer {TOKEN}"}


def visitors(*seqs: int) -> list[dict[str, str]]:
    return [
        {"name": f"游客{s}", "id_type": "id_card", "id_number": id_number("19900307", s)}
        for s in seqs
    ]


async def sell_real_name(client: TestClient, key: str, *seqs: int) -> dict[str, Any]:
    """A paid real-name order, one ticket per visitor."""
    status, body = await order(
        client, key, product="realname", quantity=len(seqs), visitors=visitors(*seqs), confirm=True
    )
    assert status == 201, body
    return dict(body["order"])


def ticket_of(sold: dict[str, Any], index: int) -> dict[str, Any]:
    return next(t for t in sold["tickets"] if t["visitor_index"] == index)


def face_path(order_id: str, index: int | str) -> str:
    return f"/api/admin/orders/{order_id}/visitors/{index}/face"


async def put_face(
    client: TestClient, order_id: str, index: int | str, photo: bytes, headers: Any = None
) -> tuple[int, dict[str, Any]]:
    resp = await client.put(
        face_path(order_id, index),
        data=photo,
        headers={**(BOX if headers is None else headers), "Content-Type": "image/jpeg"},
    )
    return resp.status, await resp.json()


async def delete_face(client: TestClient, order_id: str, index: int) -> dict[str, Any]:
    resp = await client.delete(face_path(order_id, index), headers=ADMIN)
    assert resp.status == 200, await resp.text()
    return dict(await resp.json())


async def face_rows(client: TestClient) -> dict[str, Any]:
    """ticket id → the stored row (as the database holds it)."""
    async with hub_of(client).engine.connect() as conn:
        rows = (await conn.execute(select(FaceRow.__table__))).all()
    return {r.ticket_id: r for r in rows}


async def feed(client: TestClient, cursor: str = "") -> dict[str, Any]:
    resp = await client.get(f"/api/bridge/venues/v1/changes?cursor={cursor}", headers=BRIDGE)
    assert resp.status == 200
    return dict(await resp.json())


async def bridge_photo(
    client: TestClient, ticket_id: str, headers: Any = None, venue: str = "v1"
) -> tuple[int, bytes, str]:
    resp = await client.get(
        f"/api/bridge/venues/{venue}/faces/{ticket_id}",
        headers=BRIDGE if headers is None else headers,
    )
    return resp.status, await resp.read(), resp.headers.get("X-Face-Version", "")

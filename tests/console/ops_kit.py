"""Orders, dead letters and conflicts for the operations pages' tests, made the way the
hub makes them (box-office sale, bridge upload, the outbox's own statements)."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from tests.support import id_number, order, seed

PHONE = "13912345678"
ID_NUMBER = id_number(seq=456)
NASTY = "<script>alert(1)</script>"


async def sold_order(
    client: TestClient, key: str = "ops-1", *, name: str = "张三", phone: str = PHONE, **over: Any
) -> dict[str, Any]:
    """A paid real-name order (one ticket) of a visitor with ``phone`` and `ID_NUMBER`."""
    status, body = await order(
        client,
        key,
        product="realname",
        confirm=True,
        visitors=[{"name": name, "id_number": over.pop("id_no", ID_NUMBER), "phone": phone}],
        **over,
    )
    assert status == 201, body
    return body["order"]


async def seeded(client: TestClient) -> None:
    await seed(client)

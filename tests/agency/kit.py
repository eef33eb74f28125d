"""Agency test helpers: create agencies through the staff API and call the agency API with
requests signed exactly as the documented scheme says."""

from __future__ import annotations

import json
from typing import Any

from aiohttp.test_utils import TestClient

from hub.api.app import HUB
from plugins.channel_agency.signing import signed_headers
from tests.support import ADMIN, TOMORROW


async def make_agency(
    client: TestClient, agency_id: str, *, top_up: int = 0, **over: Any
) -> dict[str, str]:
    body = {"name": f"Agency {agency_id}", "payment": "prepaid", **over}
    resp = await client.put(f"/api/admin/agencies/{agency_id}", json=body, headers=ADMIN)
    assert resp.status in (200, 201), await resp.text()
    if top_up:
        resp = await client.post(
            f"/api/admin/agencies/{agency_id}/top-up",
            json={"amount": top_up, "key": "initial"},
            headers=ADMIN,
        )
        assert resp.status == 200, await resp.text()
    resp = await client.post(f"/api/admin/agencies/{agency_id}/credentials", headers=ADMIN)
    assert resp.status == 201
    return dict(await resp.json())


async def call(
    client: TestClient,
    creds: dict[str, str],
    method: str,
    path: str,
    body: Any = None,
    *,
    raw: bytes | None = None,
    nonce: str | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
    now = int(client.app[HUB].clock.now().timestamp())
    bare, _, query = path.partition("?")
    signed = signed_headers(
        creds["key_id"], creds["secret"], method, bare, query, data, now=now, nonce=nonce
    )
    resp = await client.request(
        method,
        path,
        data=data,
        headers={**signed, "Content-Type": "application/json", **(headers or {})},
    )
    try:
        return resp.status, await resp.json()
    except Exception:
        return resp.status, await resp.text()


def group(order_no: str, head_count: int, **over: Any) -> dict[str, Any]:
    """A group booking; its roster is `head_count` made-up visitors unless ``visitors``
    or ``roster_id`` is given (a group is always booked with its roster)."""
    roster = {} if {"visitors", "roster_id"} & over.keys() else {"visitors": visitors(head_count)}
    return {
        "order_no": order_no,
        "product_id": "adult",
        "travel_date": TOMORROW.isoformat(),
        "slot": "09:00-11:00",
        "head_count": head_count,
        "guide": {"name": "Guide Wang", "licence_no": "D-1234", "phone": "13800138000"},
        **roster,
        **over,
    }


def visitors(n: int, start: int = 100) -> list[dict[str, Any]]:
    from tests.support import id_number

    return [
        {"name": f"Visitor {chr(65 + i % 26)}", "id_number": id_number(seq=start + i)}
        for i in range(n)
    ]


async def account(client: TestClient, agency_id: str) -> dict[str, Any]:
    resp = await client.get(f"/api/admin/agencies/{agency_id}", headers=ADMIN)
    return dict((await resp.json())["account"])

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


async def dead_letter(hub: Any, partner: str = "ctrip", error: str = "HTTP 500 <b>boom</b>") -> int:
    """A partner call queued as the order pipeline queues it, then dead-lettered the way a
    worker does it (claimed, then marked dead)."""
    from hub.contracts import PartnerCall
    from hub.outbox.store import OutboxStore

    async with hub.engine.begin() as conn:
        await hub.outbox.enqueue(
            conn,
            [
                PartnerCall(
                    partner=partner, kind="notify", dedupe_key=f"{partner}:{error}", payload={}
                )
            ],
        )
    [claimed] = await OutboxStore.claim(
        hub.engine, worker_id="w1", limit=1, now=hub.clock.now(), lease_seconds=60
    )
    assert await OutboxStore.mark_dead(hub.engine, claimed.id, worker_id="w1", error=error)
    return claimed.id


async def conflict(
    hub: Any,
    rid: str = "r-1",
    ticket: str = "T1",
    gate: str = "east",
    code: str = "ENTRIES_EXHAUSTED",
) -> None:
    """A redemption the hub could not count (`hub.redemptions.uploads` keeps these); with
    ``code=""`` one that counted."""
    from hub.storage.tables import RedemptionRow

    now = hub.clock.now()
    async with hub.engine.begin() as conn:
        await conn.execute(
            RedemptionRow.__table__.insert().values(
                id=rid,
                ticket_id=ticket,
                venue_id="v1",
                gate=gate,
                device="d1",
                at=now,
                received_at=now,
                accepted=True,
                counted=not code,
                conflict=code,
                bridge="b1",
                offline=True,
            )
        )

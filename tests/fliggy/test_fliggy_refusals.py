"""Bad input from "Fliggy" gets Fliggy's own code (spec `[result_codes]`), never a 500,
and writes nothing: no order, no stock taken, no callback queued."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from sandbox.ota.fliggy import FliggyClient, booking, travellers
from tests.channel_kit import stock
from tests.fliggy.kit import Rig, rig
from tests.support import TOMORROW, id_number

ONE_TRAVELLER = travellers([id_number()])


async def _nothing_written(r: Rig) -> None:
    assert await r.orders() == 0
    assert await stock(r.client) == {"held": 0, "sold": 0}
    assert await r.rows() == 0


async def test_forged_foreign_stale_and_tampered_calls_are_refused(
    aiohttp_client: Any, db_url: str
) -> None:
    async with rig(aiohttp_client, db_url) as r:
        body = booking("B1", day=TOMORROW)
        forged = await r.fliggy.send(r.fliggy.build("create", body, secret="not-the-secret"))
        assert (forged.status, forged.code) == (200, "1002"), forged
        foreign = FliggyClient(r.client, app_key="someone-else", now=r.clock.now)
        assert (await foreign.call("create", body)).code == "1003"
        stale = FliggyClient(r.client, now=lambda: r.clock.now() - timedelta(minutes=30))
        assert (await stale.call("create", body)).code == "1002"
        # the query is signed together with the body: another body under it is forged
        signed = r.fliggy.build("create", body)
        other = json.dumps(booking("B1", day=TOMORROW, quantity=9)).encode()
        swapped = type(signed)(signed.operation, signed.query, other)
        assert (await r.fliggy.send(swapped)).code == "1002"
        path = "/api/channels/fliggy/create"
        anonymous = await r.client.post(path, data=signed.body)
        assert (await anonymous.json())["code"] == "1003"  # no app_key: unknown app
        query = {k: v for k, v in signed.query if k != "sign"}
        unsigned = await r.client.post(path, params=query, data=signed.body)
        assert (await unsigned.json())["code"] == "1002"
        await _nothing_written(r)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"order_id": "B2", "product_id": ',  # truncated
        b"not json at all",
        b'{"order_id": "\xff\xfe"}',  # not UTF-8
        '{"order_id": "B2", "contact": {"name": "张三"}}'.encode("gbk"),  # wrong encoding
        b"[1, 2, 3]",
    ],
)
async def test_malformed_bodies_are_parse_errors(
    aiohttp_client: Any, db_url: str, raw: bytes
) -> None:
    async with rig(aiohttp_client, db_url) as r:
        reply = await r.fliggy.send(r.fliggy.build("create", None, raw=raw))
        assert (reply.status, reply.code) == (200, "1001"), reply
        await _nothing_written(r)


async def test_oversized_and_unknown_operation(aiohttp_client: Any, db_url: str) -> None:
    async with rig(aiohttp_client, db_url) as r:
        big = b'{"order_id":"' + b"x" * (1024 * 1024 + 10) + b'"}'
        reply = await r.fliggy.send(r.fliggy.build("create", None, raw=big))
        assert reply.status == 200 and reply.code == "1001", reply
        nope = await r.fliggy.call("teleport", booking("B3", day=TOMORROW))
        assert nope.code == "1004", nope
        await _nothing_written(r)


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"product_id": "no-such-product"}, "2001"),
        ({"quantity": 11}, "2002"),  # capacity 10
        ({"travel_date": "2026-13-45"}, "2003"),
        ({"price": 9000}, "2004"),  # not the agreed price
        ({"quantity": "two"}, "1004"),
        ({"product_id": "realname", "quantity": 2, "travellers": ONE_TRAVELLER}, "2006"),
        ({"product_id": "realname", "travellers": travellers(["110101199003071234"])}, "2005"),
        ({"product_id": "realname", "travellers": [{"name": "A", "cert_type": "9"}]}, "2005"),
    ],
)
async def test_business_refusals_use_fliggys_codes(
    aiohttp_client: Any, db_url: str, change: dict[str, Any], code: str
) -> None:
    async with rig(aiohttp_client, db_url) as r:
        reply = await r.fliggy.call("create", booking("B4", day=TOMORROW) | change)
        assert (reply.status, reply.code) == (200, code), reply
        assert reply.data is None
        await _nothing_written(r)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"contact": {"name": "N" * 101, "phone": "13700000000"}}, "contact.name"),
        ({"contact": {"name": "Zhao", "phone": "1" * 33}}, "contact.phone"),
        (
            {"product_id": "realname", "travellers": [{"name": "T" * 101, "cert_no": id_number()}]},
            "travellers[0].name",
        ),
    ],
)
async def test_a_field_failing_validation_is_fliggys_bad_request_naming_it(
    aiohttp_client: Any, db_url: str, change: dict[str, Any], field: str
) -> None:
    """Correctly signed, but over the hub's limits: 1004 naming Fliggy's field — not 9999
    "system busy, retry", which Fliggy would retry for ever."""
    async with rig(aiohttp_client, db_url) as r:
        reply = await r.fliggy.call("create", booking("B6", day=TOMORROW) | change)
        assert (reply.status, reply.code) == (200, "1004"), reply
        assert reply.message.startswith(f"invalid parameters: {field}: "), reply
        await _nothing_written(r)


async def test_a_replay_with_a_changed_body_is_refused(aiohttp_client: Any, db_url: str) -> None:
    async with rig(aiohttp_client, db_url) as r:
        first = await r.fliggy.call("create", booking("B5", day=TOMORROW, quantity=2))
        assert first.ok, first
        changed = await r.fliggy.call("create", booking("B5", day=TOMORROW, quantity=3))
        assert changed.code == "2009", changed
        assert await r.orders() == 1
        assert await stock(r.client) == {"held": 0, "sold": 2}


async def test_operations_on_unknown_orders(aiohttp_client: Any, db_url: str) -> None:
    async with rig(aiohttp_client, db_url) as r:
        for op in ("query", "cancel", "refund"):
            reply = await r.fliggy.call(op, {"order_id": "never-sold"})
            assert reply.code == "3001", (op, reply)
        assert (await r.fliggy.call("query", {})).code == "1004"
        await _nothing_written(r)

"""Ctrip end to end through the sandbox Ctrip client over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from plugins.channel_ctrip.protocol import ctrip_sign
from tests.channel_kit import stock
from tests.ctrip.kit import SECRETS, ctrip, ctrip_hub, order
from tests.support import hub_client, id_number


async def test_happy_path_verify_create_pay_query_cancel(aiohttp_client: Any, db_url: str) -> None:
    client = await ctrip_hub(aiohttp_client, db_url)
    c = ctrip(client)
    v = await c.call("VerifyOrder", order("c1", quantity=2))
    assert (v.code, v.body["inventory"]) == ("0000", 10), v
    assert await stock(client) == {"held": 0, "sold": 0}
    created = await c.call("CreatePreOrder", order("c1", quantity=2))
    assert created.code == "0000", created
    assert created.body["supplierOrderId"] and created.body["orderStatus"] == "held"
    assert await stock(client) == {"held": 2, "sold": 0}
    paid = await c.call("PayPreOrder", {"otaOrderId": "c1"})
    assert (paid.code, paid.body["orderStatus"]) == ("0000", "confirmed")
    assert await stock(client) == {"held": 0, "sold": 2}
    again = await c.call("PayPreOrder", {"otaOrderId": "c1"})
    assert again.raw == paid.raw
    q = await c.call("QueryOrder", {"otaOrderId": "c1"})
    assert q.body["orderStatus"] == "confirmed" and len(q.body["vouchers"]) == 2
    assert all(v["voucherCode"] for v in q.body["vouchers"])
    partial = await c.call(
        "CancelOrder", {"otaOrderId": "c1", "cancelType": 1, "quantity": 1, "sequenceId": "s1"}
    )
    assert partial.code == "0000", partial
    assert partial.body["items"][0]["cancelQuantity"] == 1
    assert await stock(client) == {"held": 0, "sold": 1}
    cancelled = await c.call("CancelOrder", {"otaOrderId": "c1", "cancelType": 0})
    assert (cancelled.code, cancelled.body["orderStatus"]) == ("0000", "refunded")
    assert cancelled.body["items"][0]["cancelQuantity"] == 2
    assert await stock(client) == {"held": 0, "sold": 0}
    assert (await c.call("CancelOrder", {"otaOrderId": "c1", "cancelType": 0})).raw == (
        cancelled.raw
    )
    missing = await c.call("QueryOrder", {"otaOrderId": "nope"})
    assert missing.code == "4001"


async def test_cancel_of_a_hold_releases_it(aiohttp_client: Any, db_url: str) -> None:
    client = await ctrip_hub(aiohttp_client, db_url)
    c = ctrip(client)
    assert (await c.call("CreatePreOrder", order("h1", quantity=3))).ok
    r = await c.call("CancelOrder", {"otaOrderId": "h1", "cancelType": 0})
    assert (r.code, r.body["orderStatus"]) == ("0000", "cancelled")
    assert await stock(client) == {"held": 0, "sold": 0}


async def test_retried_create_gets_identical_answer_and_holds_once(
    aiohttp_client: Any, db_url: str
) -> None:
    client = await ctrip_hub(aiohttp_client, db_url)
    replies = await ctrip(client).retry("CreatePreOrder", order("r1", quantity=2))
    assert replies[0].ok and len({r.raw for r in replies}) == 1
    assert await stock(client) == {"held": 2, "sold": 0}


async def test_refusals_in_ctrip_codes_write_nothing(aiohttp_client: Any, db_url: str) -> None:
    client = await ctrip_hub(aiohttp_client, db_url, capacity=3)
    c = ctrip(client)
    assert (await ctrip(client, sign_key="wrong").call("CreatePreOrder", order("x1"))).code == (
        "0002"
    )
    assert (await ctrip(client, account_id="other").call("CreatePreOrder", order("x2"))).code == (
        "0003"
    )
    wrong_key = ctrip(client, aes_key="0000000000000000")
    assert (await c.send_raw(wrong_key.build("CreatePreOrder", order("x3")))).code == "0001"
    # a truncated body, correctly signed: only the decryption can catch it
    cut = json.loads(c.build("CreatePreOrder", order("x4")))
    cut["body"] = cut["body"][:-32]
    h = cut["header"]
    h["sign"] = ctrip_sign(
        h["accountId"], h["serviceName"], h["requestTime"], cut["body"], h["version"], c.sign_key
    )
    assert (await c.send_raw(json.dumps(cut).encode())).code == "0001"
    assert (await c.send_raw(b"{not json")).code == "0001"
    assert (await c.send_raw(b"")).code == "0001"
    assert (await c.call("CreatePreOrder", order("x5", plu="ghost"))).code == "1001"
    sold_out = await c.call("CreatePreOrder", order("x6", quantity=5))
    assert sold_out.code == "1003" and "Only 3 left" in sold_out.message
    verify_out = await c.call("VerifyOrder", order("x6", quantity=5))
    assert verify_out.code == "1003" and "Only 3 left" in verify_out.message
    bad_id = order(
        "x7",
        plu="realname",
        passengers=[{"name": "Han Meimei", "cardType": "1", "cardNo": "110101199003071230"}],
    )
    assert id_number() != "110101199003071230"
    assert (await c.call("CreatePreOrder", bad_id)).code == "1006"
    assert (await c.call("VerifyOrder", bad_id)).code == "1006"
    assert (await c.call("CreatePreOrder", order("x8", quantity="many"))).code == "1005"
    assert (await c.call("PayPreOrder", {"otaOrderId": "x1"})).code == "2001"
    assert await stock(client) == {"held": 0, "sold": 0}
    for ota in ("x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8"):
        assert (await c.call("QueryOrder", {"otaOrderId": ota})).code == "4001"


async def test_real_name_order_with_valid_id(aiohttp_client: Any, db_url: str) -> None:
    client = await ctrip_hub(aiohttp_client, db_url)
    body = order(
        "n1",
        plu="realname",
        passengers=[{"name": "Han Meimei", "cardType": "1", "cardNo": id_number()}],
    )
    created = await ctrip(client).call("CreatePreOrder", body)
    assert created.ok, created
    again = await ctrip(client).call(
        "CreatePreOrder",
        order(
            "n2",
            plu="realname",
            passengers=[{"name": "Han Meimei", "cardType": "1", "cardNo": id_number()}],
        ),
    )
    assert again.code == "1004"


async def test_concurrent_creates_for_last_places_never_oversell(
    aiohttp_client: Any, db_url: str
) -> None:
    client = await ctrip_hub(aiohttp_client, db_url, capacity=5)
    c = ctrip(client)
    replies = await asyncio.gather(
        *(c.call("CreatePreOrder", order(f"p{i}", quantity=1 + i % 2)) for i in range(12))
    )
    held = sum(r.body["quantity"] for r in replies if r.ok)
    assert {r.code for r in replies if not r.ok} == {"1003"}
    assert held <= 5 and (await stock(client))["held"] == held


async def test_an_oversized_body_is_answered_in_ctrips_envelope(
    aiohttp_client: Any, sqlite_url: str
) -> None:
    client = await hub_client(
        aiohttp_client, sqlite_url, channel_settings={"ctrip": SECRETS}, max_body_bytes=4096
    )
    resp = await client.post("/api/channels/ctrip", data=b"{" + b" " * 8000 + b"}")
    body = await resp.json()
    assert resp.status == 200
    assert body["header"]["resultCode"] == "0001"

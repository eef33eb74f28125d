"""Every Ctrip service through the sandbox Ctrip client over HTTP, on both databases:
CreateOrder, CancelPreOrder, CancelOrder by quantity and by passenger, RefundOrder,
QueryOrder's running totals; replays answered byte for byte, changed replays refused,
and every refusal in Ctrip's own code with nothing written."""

from __future__ import annotations

import json
from typing import Any

from tests.channel_kit import stock
from tests.ctrip.kit import ctrip, ctrip_hub, id_passengers, order
from tests.support import id_number


async def test_create_order_sells_in_one_step_and_is_idempotent(
    aiohttp_client: Any, db_url: str
) -> None:
    client = await ctrip_hub(aiohttp_client, db_url)
    c = ctrip(client)
    replies = await c.retry("CreateOrder", order("o1", quantity=2))
    assert replies[0].ok and replies[0].body["orderStatus"] == "confirmed", replies[0]
    assert len({r.raw for r in replies}) == 1
    assert len(replies[0].body["vouchers"]) == 2
    assert await stock(client) == {"held": 0, "sold": 2}
    pushed = await c.duplicate("CreateOrder", order("o1", quantity=2), times=3)
    assert {r.raw for r in pushed} == {replies[0].raw}
    changed = await c.call("CreateOrder", order("o1", quantity=3))
    assert changed.code == "1101", changed
    as_pre = await c.call("CreatePreOrder", order("o1", quantity=2))
    assert as_pre.code == "1101"  # one otaOrderId, one order
    assert await stock(client) == {"held": 0, "sold": 2}


async def test_cancel_pre_order_releases_the_hold_once(aiohttp_client: Any, db_url: str) -> None:
    client = await ctrip_hub(aiohttp_client, db_url)
    c = ctrip(client)
    assert (await c.call("CreatePreOrder", order("p1", quantity=3))).ok
    replies = await c.retry("CancelPreOrder", {"otaOrderId": "p1", "sequenceId": "x"})
    assert replies[0].ok and replies[0].body["orderStatus"] == "cancelled"
    assert len({r.raw for r in replies}) == 1
    assert await stock(client) == {"held": 0, "sold": 0}
    changed = await c.call("CancelPreOrder", {"otaOrderId": "p1", "sequenceId": "x", "why": 1})
    assert changed.code == "1101"
    assert (await c.call("CreateOrder", order("p2"))).ok
    paid = await c.call("CancelPreOrder", {"otaOrderId": "p2"})
    assert paid.code == "2001" and "CancelOrder" in paid.message
    assert (await c.call("CancelPreOrder", {"otaOrderId": "ghost"})).code == "2001"
    assert await stock(client) == {"held": 0, "sold": 1}


async def test_cancel_by_quantity(aiohttp_client: Any, db_url: str) -> None:
    client = await ctrip_hub(aiohttp_client, db_url)
    c = ctrip(client)
    assert (await c.call("CreateOrder", order("q1", quantity=4))).ok
    body = {"otaOrderId": "q1", "cancelType": 1, "quantity": 3, "sequenceId": "c-1"}
    replies = await c.retry("CancelOrder", body)
    assert replies[0].ok, replies[0]
    assert len({r.raw for r in replies}) == 1  # the retry did not cancel 3 more
    assert replies[0].body["items"][0]["cancelQuantity"] == 3
    assert await stock(client) == {"held": 0, "sold": 1}
    changed = await c.call("CancelOrder", {**body, "quantity": 1})
    assert changed.code == "1101"
    too_many = await c.call(
        "CancelOrder", {"otaOrderId": "q1", "cancelType": 1, "quantity": 2, "sequenceId": "c-2"}
    )
    assert too_many.code == "2004", too_many
    bad = await c.call(
        "CancelOrder", {"otaOrderId": "q1", "cancelType": 1, "quantity": "x", "sequenceId": "c-3"}
    )
    assert bad.code == "1006"
    assert await stock(client) == {"held": 0, "sold": 1}
    q = await c.call("QueryOrder", {"otaOrderId": "q1"})
    item = q.body["items"][0]
    assert (item["quantity"], item["cancelQuantity"], item["useQuantity"]) == (4, 3, 0)
    assert [v["status"] for v in q.body["vouchers"]].count("revoked") == 3


async def test_cancel_by_passenger_refunds_exactly_their_tickets(
    aiohttp_client: Any, db_url: str
) -> None:
    client = await ctrip_hub(aiohttp_client, db_url)
    c = ctrip(client)
    people = id_passengers(3)
    created = await c.call("CreateOrder", order("r1", "realname", 3, passengers=people))
    assert created.ok, created
    before = {v["voucherId"]: v for v in created.body["vouchers"]}
    cancel = {"otaOrderId": "r1", "cancelType": 2, "passengers": [people[2], people[0]]}
    answer = await c.call("CancelOrder", {**cancel, "sequenceId": "x-1"})
    assert answer.ok, answer
    revoked = {v["voucherId"] for v in answer.body["vouchers"] if v["status"] == "revoked"}
    assert len(revoked) == 2 and revoked <= set(before)
    assert await stock(client) == {"held": 0, "sold": 1}
    # the remaining passenger can still be cancelled by name of their ID; the others not
    again = await c.call("CancelOrder", {**cancel, "sequenceId": "x-2"})
    assert again.code == "2001"
    stranger = {"name": "Nobody", "cardType": "1", "cardNo": id_number(seq=999)}
    unknown = await c.call(
        "CancelOrder", {"otaOrderId": "r1", "cancelType": 2, "passengers": [stranger]}
    )
    assert unknown.code == "1006"
    twice = await c.call(
        "CancelOrder",
        {"otaOrderId": "r1", "cancelType": 2, "passengers": [people[1], people[1]]},
    )
    assert twice.code == "1006"
    assert await stock(client) == {"held": 0, "sold": 1}
    # the per-ID limit of the cancelled passengers is free again
    rebook = await c.call("CreateOrder", order("r2", "realname", 1, passengers=[people[0]]))
    assert rebook.ok, rebook


async def test_refund_order(aiohttp_client: Any, db_url: str) -> None:
    client = await ctrip_hub(aiohttp_client, db_url)
    c = ctrip(client)
    assert (await c.call("CreatePreOrder", order("f1", quantity=3))).ok
    unpaid = await c.call("RefundOrder", {"otaOrderId": "f1", "sequenceId": "r"})
    assert unpaid.code == "3002"
    assert (await c.call("PayPreOrder", {"otaOrderId": "f1"})).ok
    part = await c.call("RefundOrder", {"otaOrderId": "f1", "sequenceId": "r-1", "quantity": 1})
    assert part.ok and part.body["items"][0]["cancelQuantity"] == 1
    over = await c.call("RefundOrder", {"otaOrderId": "f1", "sequenceId": "r-2", "quantity": 5})
    assert over.code == "3002"
    rest = await c.call("RefundOrder", {"otaOrderId": "f1", "sequenceId": "r-3"})
    assert rest.ok and rest.body["orderStatus"] == "refunded"
    assert await stock(client) == {"held": 0, "sold": 0}
    assert (await c.call("RefundOrder", {"otaOrderId": "f1", "sequenceId": "r-3"})).raw == rest.raw


async def test_cancel_of_a_hold_only_whole(aiohttp_client: Any, db_url: str) -> None:
    client = await ctrip_hub(aiohttp_client, db_url)
    c = ctrip(client)
    assert (await c.call("CreatePreOrder", order("h1", quantity=2))).ok
    part = await c.call("CancelOrder", {"otaOrderId": "h1", "cancelType": 1, "quantity": 1})
    assert part.code == "2001" and "not paid" in part.message
    bad_type = await c.call("CancelOrder", {"otaOrderId": "h1", "cancelType": 7})
    assert bad_type.code == "1006"
    assert await stock(client) == {"held": 2, "sold": 0}
    whole = await c.call("CancelOrder", {"otaOrderId": "h1", "cancelType": 0})
    assert whole.ok and whole.body["orderStatus"] == "cancelled"
    assert whole.body["items"][0]["cancelQuantity"] == 2
    assert await stock(client) == {"held": 0, "sold": 0}


async def test_bad_input_gets_ctrips_codes_and_writes_nothing(
    aiohttp_client: Any, db_url: str
) -> None:
    client = await ctrip_hub(aiohttp_client, db_url)
    c = ctrip(client)
    # wrong encoding: the body decrypts, but to GBK bytes, not UTF-8 JSON
    from plugins.channel_ctrip.protocol import ctrip_encrypt, ctrip_sign

    doc = json.loads(c.build("CreatePreOrder", order("e1")))
    gbk = json.dumps(order("e1", contacts=[{"name": "李雷"}]), ensure_ascii=False).encode("gbk")
    doc["body"] = ctrip_encrypt(gbk, c.aes_key, c.aes_iv)
    h = doc["header"]
    h["sign"] = ctrip_sign(
        h["accountId"], h["serviceName"], h["requestTime"], doc["body"], h["version"], c.sign_key
    )
    assert (await c.send_raw(json.dumps(doc).encode())).code == "0001"
    # a body that is not the letters a..p at all
    doc["body"] = "zz" * 16
    h["sign"] = ctrip_sign(
        h["accountId"], h["serviceName"], h["requestTime"], doc["body"], h["version"], c.sign_key
    )
    assert (await c.send_raw(json.dumps(doc).encode())).code == "0001"
    # quantity ≠ passengers
    people = id_passengers(2)
    mismatch = await c.call("CreateOrder", order("e2", "realname", 3, passengers=people))
    assert mismatch.code == "1006", mismatch
    # a real-name product without passengers
    assert (await c.call("CreateOrder", order("e3", "realname", 1))).code in ("1005", "1006")
    # an invalid ID number (wrong check digit)
    bad = [{"name": "Han", "cardType": "1", "cardNo": id_number()[:-1] + "0"}]
    if bad[0]["cardNo"] == id_number():
        bad[0]["cardNo"] = id_number()[:-1] + "1"
    assert (await c.call("CreateOrder", order("e4", "realname", 1, passengers=bad))).code == "1006"
    # an unknown id type
    odd = [{"name": "Han", "cardType": "99", "cardNo": id_number()}]
    assert (await c.call("CreateOrder", order("e5", "realname", 1, passengers=odd))).code == "1006"
    assert (await c.call("CreateOrder", order("e6", plu="ghost"))).code == "1001"
    assert (await c.call("NoSuchService", {"otaOrderId": "e7"})).code == "1005"
    assert (await c.call("CancelOrder", {"cancelType": 0})).code == "1006"
    assert await stock(client) == {"held": 0, "sold": 0}
    for ota in ("e1", "e2", "e3", "e4", "e5", "e6"):
        assert (await c.call("QueryOrder", {"otaOrderId": ota})).code == "4001"


async def test_a_field_failing_validation_is_ctrips_bad_request_naming_it(
    aiohttp_client: Any, db_url: str
) -> None:
    """Correctly signed, but a contact name over the hub's 100 characters: Ctrip's "wrong
    information" naming Ctrip's field — not "supplier system error", which Ctrip retries."""
    client = await ctrip_hub(aiohttp_client, db_url)
    c = ctrip(client)
    long_name = [{"name": "N" * 101, "mobile": "13800000000"}]
    for service in ("CreatePreOrder", "CreateOrder", "VerifyOrder"):
        reply = await c.call(service, order(f"v-{service}", contacts=long_name))
        assert reply.code == "1005", (service, reply)
        assert reply.message.startswith("missing information: contacts[0].name:"), reply
    people = id_passengers(1)
    people[0]["name"] = "P" * 101
    reply = await c.call("CreateOrder", order("v-p", "realname", 1, passengers=people))
    assert reply.code == "1005" and "passengers[0].name:" in reply.message, reply
    assert await stock(client) == {"held": 0, "sold": 0}

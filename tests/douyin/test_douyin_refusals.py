"""Bad input from "Douyin" gets Douyin's own code (never a 500) and writes nothing:
forged or stale signatures, a wrong client key, unknown products, broken bodies, a
changed replay, tourists that do not match the count, invalid ID numbers."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sandbox.ota.douyin import SpiRequest, spi_sign
from tests.channel_kit import stock
from tests.douyin.kit import SECRETS, Rig, order, rig, tourists
from tests.support import id_number


async def _nothing_written(r: Rig) -> None:
    assert await stock(r.client) == {"held": 0, "sold": 0}
    assert await r.orders() == 0


def _resign_md5(req: SpiRequest) -> SpiRequest:
    """The same request carrying a VALID legacy md5 sign as well."""
    query = dict(req.query)
    query["sign"] = spi_sign(SECRETS["DOUYIN_CLIENT_SECRET"], query, req.body, "md5")
    return replace(req, query=tuple(query.items()))


async def test_signature_refusals(aiohttp_client: Any, db_url: str) -> None:
    async with rig(aiohttp_client, db_url) as r:
        d = r.douyin()
        good = d.build("create_order", order("s1"))
        sign = good.headers["x-life-sign"]
        forged = replace(good, headers={**good.headers, "x-life-sign": "0" * len(sign)})
        reply = await d.send(forged)
        assert (reply.status, reply.code) == (200, 999999), reply
        # a wrong sha256 never falls back to a valid md5 (no downgrade)
        reply = await d.send(_resign_md5(forged))
        assert reply.code == 999999 and "signature" in reply.description, reply
        # the body changed after signing
        tampered = replace(good, body=good.body.replace(b'"count":1', b'"count":9'))
        assert (await d.send(tampered)).code == 999999
        # unsigned, and a legacy md5 signed with another secret
        unsigned = replace(
            good, headers={k: v for k, v in good.headers.items() if k != "x-life-sign"}
        )
        assert (await d.send(unsigned)).code == 999999
        other = r.douyin(scheme="md5", client_secret="not-the-secret")
        assert (await other.call("create_order", order("s1"))).code == 999999
        # stale: signed correctly eleven minutes ago (the window is ten)
        stale = d.build("create_order", order("s1"), timestamp=d.now_ms() - 11 * 60 * 1000)
        reply = await d.send(stale)
        assert reply.code == 999999 and "window" in reply.description, reply
        # another application's client key
        wrong_key = r.douyin(client_key="awk-someone-else")
        assert (await wrong_key.call("create_order", order("s1"))).code == 999999
        await _nothing_written(r)
        assert (await d.send(good)).ok  # the genuine request still works


async def test_body_refusals(aiohttp_client: Any, db_url: str) -> None:
    async with rig(aiohttp_client, db_url) as r:
        d = r.douyin()

        def signed(raw: bytes) -> SpiRequest:
            req = d.build("create_order", {})
            query = dict(req.query)
            sign = spi_sign(SECRETS["DOUYIN_CLIENT_SECRET"], query, raw, "sha256")
            return replace(req, body=raw, headers={**req.headers, "x-life-sign": sign})

        full = d.build("create_order", order("b1")).body
        for raw in (full[: len(full) // 2], b"not json", "订单".encode("gbk"), b"[1,2]"):
            reply = await d.send(signed(raw))
            assert (reply.status, reply.code) == (200, 999999), (raw, reply)
        huge = signed(b'{"order_id":"' + b"x" * 2_000_000 + b'"}')
        reply = await d.send(huge)
        assert (reply.status, reply.code) == (200, 999999), reply
        missing = await d.call("create_order", {"order_id": "b1"})
        assert missing.code == 999999, missing
        unknown = await d.call("create_order", order("b1", sku="no-such-sku"))
        assert unknown.code == 999999 and "sku" in unknown.description, unknown
        bad_date = await d.call("create_order", order("b1", use_date="2026-13-40"))
        assert bad_date.code == 4, bad_date
        await _nothing_written(r)


async def test_visitor_refusals(aiohttp_client: Any, db_url: str) -> None:
    async with rig(aiohttp_client, db_url) as r:
        d = r.douyin()
        nameless = [{"name": "Visitor 0", "id_type": 1}, {"name": "Visitor 1", "id_type": 1}]
        no_ids = await d.call("create_order", order("v1", "realname", 2, tourists=nameless))
        assert no_ids.code == 13, no_ids
        mismatch = await d.call("create_order", order("v1b", "realname", 3, tourists=tourists(2)))
        assert mismatch.code == 15, mismatch
        broken = tourists(1)
        broken[0]["id_no"] = id_number()[:-1] + ("0" if id_number()[-1] != "0" else "1")
        invalid = await d.call("create_order", order("v1c", "realname", 1, tourists=broken))
        assert invalid.code == 20, invalid
        await _nothing_written(r)
        ok = await d.call("create_order", order("v2", "realname", 2, tourists=tourists(2)))
        assert ok.ok, ok
        twice = await d.call("create_order", order("v3", "realname", 1, tourists=tourists(1)))
        assert twice.code in (3, 7), twice  # the same ID again on the same day
        assert await r.orders() == 1


async def test_a_field_failing_validation_is_a_final_refusal_naming_it(
    aiohttp_client: Any, db_url: str
) -> None:
    """Over the hub's limits: Douyin's final 999999 naming its field, never 100 (retry)."""
    async with rig(aiohttp_client, db_url) as r:
        d = r.douyin()
        people = tourists(1)
        people[0]["name"] = "T" * 101
        reply = await d.call("create_order", order("f1", "realname", 1, tourists=people))
        assert reply.code == 999999, reply
        assert reply.description.startswith("request invalid: tourists[0].name: "), reply
        people = tourists(1)
        people[0]["phone"] = "1" * 33
        reply = await d.call("can_buy", order("f2", "realname", 1, tourists=people))
        assert reply.code == 999999, reply
        assert reply.description.startswith("request invalid: tourists[0].phone: "), reply
        await _nothing_written(r)


async def test_changed_replay_is_a_conflict(aiohttp_client: Any, db_url: str) -> None:
    async with rig(aiohttp_client, db_url) as r:
        d = r.douyin()
        assert (await d.call("create_order", order("x1", count=1))).ok
        changed = await d.call("create_order", order("x1", count=2))
        assert changed.code == 999999 and "order_id" in changed.description, changed
        assert await stock(r.client) == {"held": 1, "sold": 0}
        assert await r.orders() == 1


async def test_sold_out_and_can_buy(aiohttp_client: Any, db_url: str) -> None:
    async with rig(aiohttp_client, db_url, capacity=2) as r:
        d = r.douyin()
        over = await d.call("can_buy", order("o1", count=3))
        assert over.code == 1 and "2" in over.description, over
        assert (await d.call("create_order", order("o1", count=2))).ok
        sold_out = await d.call("create_order", order("o2", count=1))
        assert sold_out.code == 1, sold_out
        assert (await d.call("can_buy", order("o3"))).code == 1
        assert await stock(r.client) == {"held": 2, "sold": 0}

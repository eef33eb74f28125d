"""Bad input from "Meituan": every refusal is Meituan's own code in its envelope (HTTP 200,
never a 500), and nothing is written — no order, no stock taken."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from sandbox.ota.meituan import CREATE, PAY, MeituanClient, MeituanRequest
from tests.channel_kit import stock
from tests.meituan.kit import order, rig, visitors
from tests.support import T0, id_number


def _with(request: MeituanRequest, *, data: bytes | None = None, **headers: str) -> MeituanRequest:
    return MeituanRequest(
        request.path,
        request.data if data is None else data,
        {**request.headers, **headers},
    )


def wrong_secret(mt: MeituanClient) -> MeituanRequest:
    mt.client_secret = "not-the-secret"
    return mt.build(CREATE, order("bad-1"))


def wrong_client_id(mt: MeituanClient) -> MeituanRequest:
    mt.client_id = "someone-else"
    return mt.build(CREATE, order("bad-1"))


def stale_date(mt: MeituanClient) -> MeituanRequest:
    return mt.build(CREATE, order("bad-1"), at=T0 - timedelta(minutes=20))


def no_authorization(mt: MeituanClient) -> MeituanRequest:
    request = mt.build(CREATE, order("bad-1"))
    headers = {k: v for k, v in request.headers.items() if k != "Authorization"}
    return MeituanRequest(request.path, request.data, headers)


def signed_for_another_path(mt: MeituanClient) -> MeituanRequest:
    pay = mt.build(PAY, {"orderId": "bad-1"})
    create = mt.build(CREATE, order("bad-1"))
    return _with(create, Authorization=pay.headers["Authorization"])


def wrong_account(mt: MeituanClient) -> MeituanRequest:
    return mt.build(CREATE, order("bad-1"), partner_id="another-partner")


def wrong_partner_header(mt: MeituanClient) -> MeituanRequest:
    return _with(mt.build(CREATE, order("bad-1")), PartnerId="another-partner")


def no_partner_header(mt: MeituanClient) -> MeituanRequest:
    request = mt.build(CREATE, order("bad-1"))
    headers = {k: v for k, v in request.headers.items() if k != "PartnerId"}
    return MeituanRequest(request.path, request.data, headers)


def unknown_product(mt: MeituanClient) -> MeituanRequest:
    return mt.build(CREATE, order("bad-1", deal="no-such-deal"))


def wrong_price(mt: MeituanClient) -> MeituanRequest:
    return mt.build(CREATE, order("bad-1", unitPrice="1.00"))


def undecryptable(mt: MeituanClient) -> MeituanRequest:
    request = mt.build(CREATE, order("bad-1"), encrypt=True)
    return _with(request, data=b"QUJDREVGR0hJSktMTU5PUA==")  # base64, not our cipher


def encrypted_with_another_key(mt: MeituanClient) -> MeituanRequest:
    mt.aes_key = "fedcba9876543210"
    return mt.build(CREATE, order("bad-1"), encrypt=True)


def truncated(mt: MeituanClient) -> MeituanRequest:
    request = mt.build(CREATE, order("bad-1"))
    return _with(request, data=request.data[: len(request.data) // 2])


def wrong_encoding(mt: MeituanClient) -> MeituanRequest:
    request = mt.build(CREATE, order("bad-1", contactPerson={"name": "韩梅梅"}))
    doc = json.loads(request.data)
    return _with(request, data=json.dumps(doc, ensure_ascii=False).encode("gbk"))


def not_an_object(mt: MeituanClient) -> MeituanRequest:
    return mt.build(CREATE, "orderId=bad-1")


def missing_order_id(mt: MeituanClient) -> MeituanRequest:
    body = order("bad-1")
    del body["orderId"]
    return mt.build(CREATE, body)


def unknown_operation(mt: MeituanClient) -> MeituanRequest:
    return mt.build("order/teleport", order("bad-1"))


def quantity_not_matching_visitors(mt: MeituanClient) -> MeituanRequest:
    return mt.build(CREATE, order("bad-1", "realname", 3, visitors=visitors(2)))


def invalid_id_number(mt: MeituanClient) -> MeituanRequest:
    wrong = id_number(seq=300)[:-1] + ("0" if id_number(seq=300)[-1] != "0" else "1")
    people = [{"name": "Li Lei", "credentialType": 0, "credentials": wrong}]
    return mt.build(CREATE, order("bad-1", "realname", 1, visitors=people))


def unknown_id_type(mt: MeituanClient) -> MeituanRequest:
    people = [{"name": "Li Lei", "credentialType": 9, "credentials": id_number(seq=301)}]
    return mt.build(CREATE, order("bad-1", "realname", 1, visitors=people))


def contact_name_too_long(mt: MeituanClient) -> MeituanRequest:
    person = {"name": "N" * 101, "mobile": "13900000000"}
    return mt.build(CREATE, order("bad-1", contactPerson=person))


def visitor_name_too_long(mt: MeituanClient) -> MeituanRequest:
    people = visitors(1)
    people[0]["name"] = "V" * 101
    return mt.build(CREATE, order("bad-1", "realname", 1, visitors=people))


def oversized(mt: MeituanClient) -> MeituanRequest:
    request = mt.build(CREATE, order("bad-1"))
    return _with(request, data=b'{"partnerId":"x","body":"' + b"a" * 1_100_000 + b'"}')


CASES: list[tuple[str, Callable[[MeituanClient], MeituanRequest], str]] = [
    ("wrong secret", wrong_secret, "401"),
    ("wrong client id", wrong_client_id, "401"),
    ("stale Date", stale_date, "401"),
    ("no Authorization", no_authorization, "401"),
    ("signature of another path", signed_for_another_path, "401"),
    ("wrong account", wrong_account, "403"),
    ("PartnerId header of another partner", wrong_partner_header, "403"),
    ("no PartnerId header", no_partner_header, "403"),
    ("unknown product", unknown_product, "501"),
    ("wrong price", wrong_price, "503"),
    ("undecryptable body", undecryptable, "400"),
    ("encrypted with another key", encrypted_with_another_key, "400"),
    ("truncated body", truncated, "400"),
    ("wrong encoding (GBK)", wrong_encoding, "400"),
    ("body not an object", not_an_object, "400"),
    ("orderId missing", missing_order_id, "400"),
    ("unknown operation", unknown_operation, "400"),
    ("quantity does not match the visitors", quantity_not_matching_visitors, "504"),
    ("invalid ID number", invalid_id_number, "504"),
    ("unknown credential type", unknown_id_type, "504"),
    ("oversized body", oversized, "400"),
    ("contact name over 100 characters", contact_name_too_long, "400"),
    ("visitor name over 100 characters", visitor_name_too_long, "400"),
]


@pytest.mark.parametrize(("what", "build", "code"), CASES, ids=[c[0] for c in CASES])
async def test_bad_input_gets_meituans_code_and_writes_nothing(
    aiohttp_client: Any,
    db_url: str,
    what: str,
    build: Callable[[MeituanClient], MeituanRequest],
    code: str,
) -> None:
    async with rig(aiohttp_client, db_url, callbacks=False) as r:
        reply = await r.meituan().send(build(r.meituan()))  # send() asserts HTTP 200
        assert reply.code == code, (what, reply)
        assert reply.describe, reply
        assert await r.orders() == 0
        assert await stock(r.client) == {"held": 0, "sold": 0}


async def test_a_field_failing_validation_is_named_in_meituans_words(
    aiohttp_client: Any, db_url: str
) -> None:
    """A correctly signed order Meituan must correct, not retry (599): 400 naming its field."""
    async with rig(aiohttp_client, db_url, callbacks=False) as r:
        mt = r.meituan()
        reply = await mt.send(contact_name_too_long(mt))
        assert reply.code == "400", reply
        assert reply.describe.startswith("invalid request: contactPerson.name: "), reply
        reply = await mt.send(visitor_name_too_long(mt))
        assert reply.describe.startswith("invalid request: visitors[0].name: "), reply
        assert await r.orders() == 0


async def test_replay_with_a_changed_body_is_refused(aiohttp_client: Any, db_url: str) -> None:
    async with rig(aiohttp_client, db_url, callbacks=False) as r:
        mt = r.meituan()
        first = await mt.call(CREATE, order("chg-1", quantity=1))
        assert first.ok, first
        changed = await mt.call(CREATE, order("chg-1", quantity=2))
        assert changed.code == "507", changed
        assert await r.orders() == 1
        assert await stock(r.client) == {"held": 1, "sold": 0}
        assert (await mt.call(CREATE, order("chg-1", quantity=1))).raw == first.raw


async def test_unconfigured_channel_answers_system_error(aiohttp_client: Any, db_url: str) -> None:
    from tests.support import hub_client

    client = await hub_client(aiohttp_client, db_url)  # no Meituan settings at all
    resp = await client.post("/api/channels/meituan/order/create", data=b"{}")
    assert resp.status == 200
    assert (await resp.json())["code"] == 599

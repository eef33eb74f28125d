"""Recorded partner messages replayed: each request a sandbox partner made (exact bytes,
headers and target, signed and encrypted as the partner does) is sent to a fresh hub on
the recording's clock, and the answer must have the recorded shape and result code.

The recordings live in each plugin's ``fixtures`` folder; `tests.recorded_partners`
plays the scenarios and re-records them."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from hub.testing.recorded import Message, load, replay, shape
from tests.recorded_partners import SCENARIOS, deterministic_ids

AiohttpClient = Callable[[web.Application], Awaitable[TestClient]]


@pytest.mark.parametrize("channel", sorted(SCENARIOS))
def test_every_operation_is_recorded_and_readable(channel: str) -> None:
    scenario = SCENARIOS[channel]
    messages = load(scenario.folder)
    assert messages, f"no recordings in {scenario.folder}: python -m tests.recorded_partners"
    if scenario.spec is not None:
        called = {scenario.spec_operation(m) for m in messages}
        assert called == set(scenario.spec.operations), (
            "re-record: python -m tests.recorded_partners"
        )
    for path in sorted(scenario.folder.glob("[0-9][0-9]_*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        got = Message.from_json(doc)
        # the human-readable part says what the bytes say
        assert doc["decoded"]["request"] == scenario.decode(got.request_body, got.request_headers)
        assert doc["decoded"]["answer"] == scenario.decode(got.answer_body, got.answer_headers)


@pytest.mark.parametrize("channel", sorted(SCENARIOS))
async def test_recorded_requests_get_answers_of_the_recorded_shape(
    channel: str, aiohttp_client: AiohttpClient, db_url: str
) -> None:
    scenario = SCENARIOS[channel]
    messages = load(scenario.folder)
    with deterministic_ids():
        async with scenario.hub(aiohttp_client, db_url) as client:
            for m in messages:
                status, headers, body = await replay(client, m)
                where = f"{channel} {m.operation}"
                assert status == m.status, where
                want: Any = scenario.decode(m.answer_body, m.answer_headers)
                got: Any = scenario.decode(body, headers)
                assert scenario.code(got) == scenario.code(want), (where, got)
                assert shape(got) == shape(want), (where, got)


async def test_a_tampered_recording_is_refused_in_the_partners_words(
    aiohttp_client: AiohttpClient, db_url: str
) -> None:
    """Control: the replay really goes through the partner's signature check — the
    recorded Ctrip verify with its signed request time changed is answered BAD_SIGN."""
    scenario = SCENARIOS["ctrip"]
    first = load(scenario.folder)[0]
    doc = json.loads(first.request_body)
    assert doc["header"]["requestTime"] != "2000-01-01 00:00:00"
    doc["header"]["requestTime"] = "2000-01-01 00:00:00"  # signed: the sign no longer fits
    tampered = Message(**{**vars_of(first), "request_body": json.dumps(doc).encode()})
    async with scenario.hub(aiohttp_client, db_url) as client:
        _, headers, body = await replay(client, tampered)
    assert scenario.code(scenario.decode(body, headers)) == "0002"  # Ctrip's bad sign


def vars_of(message: Message) -> dict[str, Any]:
    return {f: getattr(message, f) for f in message.__dataclass_fields__}


async def _order_of_notice(client: TestClient) -> tuple[str, int]:
    """(state, tickets) of the order the recorded WeChat notices pay."""
    from sqlalchemy import func, select

    from hub.orders.records import ORD, TIX
    from tests.recorded_wechat import OUT_TRADE_NO
    from tests.support import hub_of

    async with hub_of(client).engine.connect() as conn:
        order_id, state = (
            await conn.execute(
                select(ORD.c.id, ORD.c.state).where(ORD.c.partner_order_id == OUT_TRADE_NO)
            )
        ).one()
        count = await conn.execute(select(func.count()).where(TIX.c.order_id == order_id))
        return str(state), int(count.scalar() or 0)


@pytest.mark.parametrize("name", ["wechat", "wechat_v2"])
async def test_recorded_wechat_payment_notice_confirms_the_order_once(
    name: str, aiohttp_client: AiohttpClient, db_url: str
) -> None:
    """WeChat Pay's recorded payment notice (v3: sealed resource and signature headers;
    v2: signed XML) confirms the waiting order, its repeat changes nothing, the forged one
    is refused — and on a hub whose clock is not the recording's, the v3 notice is out of
    its time window (the signature's timestamp is checked against the injected clock)."""
    from datetime import timedelta

    from tests.support import T0, hub_of

    scenario = SCENARIOS[name]
    first, again, forged = load(scenario.folder)
    if name == "wechat":  # first, on the fresh database: the clock 10 minutes on
        async with scenario.hub(aiohttp_client, db_url) as client:
            hub_of(client).clock.set(T0 + timedelta(minutes=10))  # type: ignore[attr-defined]
            status, _, body = await replay(client, first)
            assert status == 401 and b"FAIL" in body
            assert (await _order_of_notice(client))[0] == "held"
    async with scenario.hub(aiohttp_client, db_url) as client:
        assert (await _order_of_notice(client))[0] == "held"
        assert (await replay(client, first))[0] in (200, 204)
        paid = await _order_of_notice(client)
        assert paid[0] == "confirmed" and paid[1] == 1
        assert (await replay(client, again))[0] in (200, 204)
        assert (await replay(client, forged))[0] == 401
        assert await _order_of_notice(client) == paid

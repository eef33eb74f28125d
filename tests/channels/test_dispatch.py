"""`SpecInbound.dispatch`: the step every OTA plugin (Ctrip, Meituan, Douyin) shares after
a call was read — run the operation's handler, and answer in the partner's own codes
whatever goes wrong, never with an exception (a partner retries a 500 blindly)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from hub.channels import load_all
from hub.channels.adapter import Inbound, SpecInbound

MEITUAN = {
    "MEITUAN_CLIENT_ID": "mt-client",
    "MEITUAN_CLIENT_SECRET": "mt-secret",
    "MEITUAN_AES_KEY": "0123456789abcdef",
    "MEITUAN_PARTNER_ID": "9001",
}


@pytest.fixture
def mt() -> SpecInbound:
    return SpecInbound(load_all()["meituan"], MEITUAN)


async def pay(got: Inbound) -> dict[str, Any]:
    return {"code": 200, "describe": "paid", "orderId": got.body["orderId"]}


async def broken(got: Inbound) -> dict[str, Any]:
    raise RuntimeError("database went away")


def call(operation: str, body: Any) -> Inbound:
    return Inbound(operation, body, {"body": body})


async def test_the_operation_s_handler_answers(mt: SpecInbound) -> None:
    answer = await mt.dispatch(call("pay", {"orderId": 7}), {"pay": pay})
    assert answer == {"code": 200, "describe": "paid", "orderId": 7}


async def test_an_operation_the_plugin_does_not_serve_is_meituan_s_invalid_request(
    mt: SpecInbound,
) -> None:
    answer = await mt.dispatch(call("teleport", {}), {"pay": pay})
    assert answer["code"] == 400 and "unsupported teleport" in answer["describe"]
    worded = await mt.dispatch(call("teleport", {}), {"pay": pay}, unknown="no such API")
    assert "no such API" in worded["describe"]


async def test_a_body_that_is_no_object_never_reaches_the_handler(mt: SpecInbound) -> None:
    answer = await mt.dispatch(call("pay", ["orderId", 7]), {"pay": pay})
    assert answer["code"] == 400 and "not an object" in answer["describe"]


async def test_a_failing_handler_is_meituan_s_system_error_and_logged(
    mt: SpecInbound, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="hub.channels.adapter"):
        answer = await mt.dispatch(call("pay", {"orderId": 7}), {"pay": broken})
    assert answer["code"] == 599  # Meituan's "system error": it retries on its own terms
    assert "database went away" not in str(answer)  # internals stay in our log
    assert any("meituan pay failed" in r.getMessage() for r in caplog.records)

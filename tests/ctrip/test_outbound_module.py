"""`hub.channels.outbound` on its own: the request Ctrip receives (checked with the
codecs, as Ctrip would), how answers are judged, and a header-signed partner (Meituan's
MWS) built from its spec alone."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from hub.channels import load_all
from hub.channels.outbound import OutboundConfigError, SpecOutbound
from hub.sdk import DeliveryError
from plugins.channel_ctrip.protocol import ctrip_decrypt, ctrip_sign
from plugins.channel_meituan.protocol import verify_meituan_mws
from sandbox.ota.ctrip import CtripReceiver
from tests.ctrip.kit import SECRETS, fast_spec

AT = datetime(2026, 11, 22, 2, 0, 5, tzinfo=UTC)  # 10:00:05 in Beijing


def outbound(url: str = "http://127.0.0.1:9/cb", **over: Any) -> SpecOutbound:
    return SpecOutbound(fast_spec(), {**SECRETS, "CTRIP_CALLBACK_URL": url, **over})


def test_the_document_is_what_ctrip_verifies() -> None:
    out = outbound()
    doc = out.document("OrderConsumedNotice", {"otaOrderId": "o1", "useQuantity": 2}, at=AT)
    h = doc["header"]
    assert (h["accountId"], h["serviceName"], h["version"]) == (
        "acct-1",
        "OrderConsumedNotice",
        "1.0",
    )
    assert h["requestTime"] == "2026-11-22 10:00:05"  # Beijing time, Ctrip's format
    expected = ctrip_sign(
        h["accountId"],
        h["serviceName"],
        h["requestTime"],
        doc["body"],
        "1.0",
        SECRETS["CTRIP_SIGN_KEY"],
    )
    assert h["sign"] == expected
    assert set(doc["body"]) <= set("abcdefghijklmnop")
    plain = ctrip_decrypt(doc["body"], SECRETS["CTRIP_AES_KEY"], SECRETS["CTRIP_AES_IV"])
    assert json.loads(plain) == {"otaOrderId": "o1", "useQuantity": 2}
    again = out.document("OrderConsumedNotice", {"otaOrderId": "o1", "useQuantity": 2}, at=AT)
    assert again == doc  # deterministic: a re-sent call is identical


@pytest.mark.parametrize(
    ("status", "data", "retryable"),
    [
        (500, b"oops", True),
        (503, b"", True),
        (429, b"", True),
        (404, b"", False),
        (200, b"<html>gateway</html>", True),
        (200, b'{"header": {"resultCode": "1100", "resultMessage": "busy"}}', True),
        (200, b'{"header": {"resultCode": "2001", "resultMessage": "no"}}', False),
        (200, b'{"header": {"resultCode": "0002", "resultMessage": "bad sign"}}', False),
    ],
)
def test_answers_are_judged(status: int, data: bytes, retryable: bool) -> None:
    with pytest.raises(DeliveryError) as err:
        outbound().judge("OrderConsumedNotice", status, data)
    assert err.value.retryable is retryable


def test_success_is_read_from_the_envelope() -> None:
    ok = b'{"header": {"resultCode": "0000", "resultMessage": "success"}}'
    reply = outbound().judge("OrderConsumedNotice", 200, ok)
    assert (reply.code, reply.message, reply.body) == ("0000", "success", None)


def test_missing_url_dead_letters_and_missing_secret_fails_at_start() -> None:
    with pytest.raises(DeliveryError) as err:
        SpecOutbound(fast_spec(), SECRETS).url("OrderConsumedNotice")
    assert not err.value.retryable and "CTRIP_CALLBACK_URL" in str(err.value)
    with pytest.raises(OutboundConfigError):
        SpecOutbound(fast_spec(), {**SECRETS, "CTRIP_SIGN_KEY": ""})
    with pytest.raises(DeliveryError):
        outbound().url("NoSuchCallback")


async def test_send_to_the_sandbox_ctrip_and_its_faults() -> None:
    receiver = CtripReceiver(
        *(
            SECRETS[k]
            for k in ("CTRIP_ACCOUNT_ID", "CTRIP_SIGN_KEY", "CTRIP_AES_KEY", "CTRIP_AES_IV")
        )
    )
    url = await receiver.start()
    try:
        out = outbound(url)
        async with aiohttp.ClientSession() as http:
            reply = await out.send(http, "OrderConsumedNotice", {"sequenceId": "s1"})
            assert reply.code == "0000"
            receiver.fail("timeout")
            with pytest.raises(DeliveryError) as err:
                await out.send(http, "OrderConsumedNotice", {"sequenceId": "s2"})
            assert err.value.retryable and "no answer" in str(err.value)
            receiver.fail("502")
            with pytest.raises(DeliveryError) as err:
                await out.send(http, "OrderConsumedNotice", {"sequenceId": "s3"})
            assert err.value.retryable
            wrong = outbound(url, CTRIP_SIGN_KEY="not-the-key")
            with pytest.raises(DeliveryError) as err:
                await wrong.send(http, "OrderConsumedNotice", {"sequenceId": "s4"})
            assert not err.value.retryable and "0002" in str(err.value)
        assert [r.sequence_id for r in receiver.accepted] == ["s1"]
    finally:
        await receiver.close()


def test_a_header_signed_partner_from_its_spec_alone() -> None:
    spec = load_all()["meituan"]
    settings = {
        "MEITUAN_PARTNER_ID": "p-7",
        "MEITUAN_CLIENT_ID": "client-1",
        "MEITUAN_CLIENT_SECRET": "s3cret",
        "MEITUAN_AES_KEY": "0123456789abcdef",
        "MEITUAN_CALLBACK_URL": "http://127.0.0.1:9/",
    }
    callbacks = {
        kind: cb.model_copy(update={"url_setting": "MEITUAN_CALLBACK_URL"})
        for kind, cb in spec.callbacks.items()
    }
    spec = spec.model_copy(update={"callbacks": callbacks})
    kind, cb = next(iter(spec.callbacks.items()))
    assert cb.path
    url, raw, headers = SpecOutbound(spec, settings).request(kind, {"orderId": 1}, at=AT)
    assert url == "http://127.0.0.1:9" + cb.path
    assert headers["Date"] == "Sun, 22 Nov 2026 02:00:05 GMT"
    assert verify_meituan_mws(
        headers["Authorization"], "client-1", "s3cret", "POST", cb.path, headers["Date"]
    )
    doc = json.loads(raw)
    assert doc["partnerId"] == "p-7" and doc["body"] == {"orderId": 1}
    # a path with a query: the query is signed too (as the inbound check does)
    queried = spec.callbacks[kind].model_copy(update={"path": cb.path + "?v=2&t=a%20b"})
    spec = spec.model_copy(update={"callbacks": {**spec.callbacks, kind: queried}})
    url, raw, headers = SpecOutbound(spec, settings).request(kind, {"orderId": 1}, at=AT)
    uri = cb.path + "?v=2&t=a%20b"
    assert url.endswith(uri)
    auth, date = headers["Authorization"], headers["Date"]
    assert verify_meituan_mws(auth, "client-1", "s3cret", "POST", uri, date)
    assert not verify_meituan_mws(auth, "client-1", "s3cret", "POST", cb.path, date)


def test_the_outbox_asks_each_callback_for_its_own_schedule() -> None:
    from hub.outbox import policies_from
    from plugins.channel_ctrip.adapter import CtripChannel

    channel = CtripChannel()
    policy_for = policies_from({"ctrip": channel}.get)
    spec = load_all()["ctrip"]
    consumed = policy_for("ctrip", "OrderConsumedNotice")
    confirm = policy_for("ctrip", "PayPreOrderConfirm")
    assert consumed == spec.callbacks["OrderConsumedNotice"].retry_policy()
    assert (consumed.deadline_seconds, confirm.deadline_seconds) == (259200, 1800)
    assert policy_for("ctrip").deadline_seconds == 86_400  # no kind: the default

"""Partner JSON of any shape is parsed or refused as malformed, never crashes the reader:
deep nesting is a `JsonDocError` (a ValueError), in requests and in partners' answers."""

from __future__ import annotations

import json

import pytest

from hub.channels import load_all
from hub.channels.adapter import HttpCall, Refusal, SpecInbound
from hub.channels.jsondoc import MAX_DEPTH, JsonDocError, depth_exceeds, loads
from hub.channels.outbound import SpecOutbound
from hub.contracts import DeliveryError

DEEP = b"[" * 100_000 + b"]" * 100_000
DEEP_SMALL = b"[" * 20_000 + b"]" * 20_000
"""Still far past the recursion limit, and under TripNest's 64 KiB body limit."""


def nested(depth: int) -> bytes:
    return b'{"a":' * depth + b"0" + b"}" * depth


def test_depth_is_measured_without_recursing() -> None:
    assert not depth_exceeds(0, 1) and not depth_exceeds([], 1)
    assert depth_exceeds([[]], 1) and not depth_exceeds([[]], 2)
    assert not depth_exceeds({"a": [1, {"b": [2]}], "c": []}, 4)
    assert depth_exceeds({"a": [1, {"b": [2]}], "c": []}, 3)
    deep: list[object] = []
    for _ in range(50_000):  # far past the recursion limit, built without parsing
        deep = [deep]
    assert depth_exceeds(deep, MAX_DEPTH)


@pytest.mark.parametrize(
    "raw",
    [DEEP, nested(100_000), nested(MAX_DEPTH + 1), b"not json", b'{"a": "\xff"}'],
    ids=["arrays 100000", "objects 100000", "one level too deep", "not json", "not utf-8"],
)
def test_what_is_refused(raw: bytes) -> None:
    with pytest.raises(JsonDocError):
        loads(raw)


def test_what_is_read() -> None:
    assert loads(nested(MAX_DEPTH - 1)) is not None
    assert loads(b"[" * 40 + b"]" * 40, max_depth=40) is not None
    with pytest.raises(JsonDocError, match="deeper than 39"):
        loads(b"[" * 40 + b"]" * 40, max_depth=39)


def tripnest() -> SpecInbound:
    from sandbox.ota.tripnest import SECRETS, SPECS_DIR

    return SpecInbound(load_all(SPECS_DIR)["tripnest"], SECRETS)


@pytest.mark.parametrize("raw", [DEEP_SMALL, nested(MAX_DEPTH + 1)], ids=["20000", "33"])
def test_the_adapter_refuses_a_deep_document_as_malformed(raw: bytes) -> None:
    refused = tripnest().read(HttpCall.of(raw, operation="book"))
    assert isinstance(refused, Refusal) and refused.key == "PARSE_ERROR", refused
    assert "deeper than" in refused.detail


def test_the_adapter_refuses_a_deep_decoded_body_as_malformed() -> None:
    """The business body inside a flat, correctly signed envelope (base64 here)."""
    from sandbox.ota.tripnest import TripNestClient

    tn = tripnest()
    request = TripNestClient(now=tn.signature.clock).request("book", None, raw=DEEP_SMALL)
    refused = tn.read(HttpCall.of(request.body, operation="book"))
    assert isinstance(refused, Refusal) and refused.key == "PARSE_ERROR", refused
    assert "deeper than" in refused.detail


def test_a_deep_answer_from_a_partner_is_a_retryable_delivery_error() -> None:
    settings = {
        "MEITUAN_PARTNER_ID": "p",
        "MEITUAN_CLIENT_ID": "c",
        "MEITUAN_CLIENT_SECRET": "s",
        "MEITUAN_AES_KEY": "0123456789abcdef",
        "MEITUAN_CALLBACK_URL": "http://127.0.0.1:9",
    }
    out = SpecOutbound(load_all()["meituan"], settings)
    with pytest.raises(DeliveryError) as err:
        out.judge("consume_notice", 200, DEEP)
    assert err.value.retryable
    assert out.judge("consume_notice", 200, json.dumps({"code": 200}).encode()).code == "200"

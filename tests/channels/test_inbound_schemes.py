"""The generic adapter authenticates every shipped scheme where each spec locates it.

Requests here are built with the reference formulas written out inline (hashlib/hmac),
not with the adapter's own checker, so a test fails when the adapter reads a partner's
signature differently from how the partner makes it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from hub.channels import load_all
from hub.channels.adapter import HttpCall, Inbound, Refusal, SpecInbound
from plugins.channel_meituan.protocol import meituan_decrypt, meituan_encrypt

NOW = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)
SPECS = load_all()

MEITUAN = {
    "MEITUAN_CLIENT_ID": "mt-client",
    "MEITUAN_CLIENT_SECRET": "mt-secret",
    "MEITUAN_AES_KEY": "0123456789abcdef",
}
DOUYIN = {"DOUYIN_CLIENT_KEY": "dy-key", "DOUYIN_CLIENT_SECRET": "dy-secret"}
FLIGGY = {"FLIGGY_APP_KEY": "fg-key", "FLIGGY_APP_SECRET": "fg-secret"}


def adapter(name: str, settings: dict[str, str], now: datetime = NOW) -> SpecInbound:
    extra = {"MEITUAN_PARTNER_ID": "9001"} if name == "meituan" else {}
    return SpecInbound(SPECS[name], {**settings, **extra}, clock=lambda: now)


# ------------------------------------------------------------------------- Meituan


def meituan_call(
    body: bytes,
    *,
    date: datetime = NOW,
    secret: str = "mt-secret",
    path: str = "/mt/pay",
    query: str = "",
    signed: str | None = None,
) -> HttpCall:
    """A Meituan call to ``path`` (+ ``?query``), MWS-signed over ``signed`` (default: the
    request target as sent, query included — the reference's URI)."""
    target = path + (f"?{query}" if query else "")
    uri = target if signed is None else signed
    stamp = format_datetime(date, usegmt=True)
    mac = hmac.new(secret.encode(), f"POST {uri}\n{stamp}".encode(), hashlib.sha1).digest()
    auth = f"MWS mt-client:{base64.b64encode(mac).decode()}"
    headers = {"Authorization": auth, "Date": stamp, "PartnerId": "9001"}
    pairs = [tuple(p.split("=", 1)) for p in query.split("&")] if query else []
    return HttpCall.of(
        body, path=path, query=pairs, target=target, headers=headers, operation="pay"
    )


def test_meituan_mws_signature_accepted_and_forgeries_refused() -> None:
    mt = adapter("meituan", MEITUAN)
    doc = {"partnerId": 9001, "body": {"orderId": 1}}
    raw = json.dumps(doc).encode()
    got = mt.read(meituan_call(raw))
    assert isinstance(got, Inbound), got
    assert got.operation == "pay" and got.body == {"orderId": 1}
    forged = mt.read(meituan_call(raw, secret="not-the-secret"))
    assert isinstance(forged, Refusal) and forged.key == "BAD_SIGN"
    stale = mt.read(meituan_call(raw, date=NOW - timedelta(hours=1)))
    assert isinstance(stale, Refusal) and stale.key == "BAD_SIGN"
    assert "window" in stale.detail
    # the signature covers the path: the same headers replayed on another URL fail
    moved = meituan_call(raw)
    moved = HttpCall.of(raw, path="/mt/refund", headers=dict(moved.headers), operation="pay")
    assert isinstance(mt.read(moved), Refusal)


def test_meituan_mws_signs_the_query_too_as_it_does_outbound() -> None:
    """One rule both ways: the URI signed is the request target, path AND query, exactly
    as sent (our notices are signed so too)."""
    mt = adapter("meituan", MEITUAN)
    raw = json.dumps({"partnerId": 9001, "body": {"orderId": 1}}).encode()
    query = "trace=a%20b&v=2"
    got = mt.read(meituan_call(raw, query=query))
    assert isinstance(got, Inbound), got
    path_only = mt.read(meituan_call(raw, query=query, signed="/mt/pay"))
    assert isinstance(path_only, Refusal) and path_only.key == "BAD_SIGN"
    other_query = mt.read(meituan_call(raw, query="trace=x&v=2", signed=f"/mt/pay?{query}"))
    assert isinstance(other_query, Refusal) and other_query.key == "BAD_SIGN"
    decoded = mt.read(meituan_call(raw, query=query, signed="/mt/pay?trace=a b&v=2"))
    assert isinstance(decoded, Refusal) and decoded.key == "BAD_SIGN"


def test_meituan_global_encryption_both_ways() -> None:
    mt = adapter("meituan", MEITUAN)
    doc = {"partnerId": 9001, "body": {"orderId": 7}}
    cipher = meituan_encrypt(json.dumps(doc).encode(), MEITUAN["MEITUAN_AES_KEY"])
    call = meituan_call(cipher.encode())
    call = HttpCall.of(
        call.raw,
        path=call.path,
        headers={**call.headers, "X-Encryption-Status": "encrypted"},
        operation="pay",
    )
    got = mt.read(call)
    assert isinstance(got, Inbound) and got.encrypted and got.body == {"orderId": 7}
    raw, headers = mt.render(mt.answer("OK", "pay", body={"ok": 1}), got)
    assert headers["X-Encryption-Status"] == "encrypted"
    answer = json.loads(meituan_decrypt(raw.decode(), MEITUAN["MEITUAN_AES_KEY"]))
    assert answer["code"] == 200 and answer["body"] == {"ok": 1}
    garbage = HttpCall.of(b"@@@", path=call.path, headers=call.headers, operation="pay")
    refused = mt.read(garbage)
    assert isinstance(refused, Refusal) and refused.key == "PARSE_ERROR"


# -------------------------------------------------------------------------- Douyin


def douyin_call(body: bytes, *, md5_only: bool = False, secret: str = "dy-secret") -> HttpCall:
    query = {"client_key": "dy-key", "timestamp": str(int(NOW.timestamp() * 1000))}
    text = secret + "".join(f"&{k}={v}" for k, v in sorted(query.items()))
    data = text.encode() + (b"&http_body=" + body if body else b"")
    headers: dict[str, str] = {"x-life-clientkey": "dy-key"}
    if md5_only:
        query["sign"] = hashlib.md5(data).hexdigest()
    else:
        headers["x-life-sign"] = hashlib.sha256(data).hexdigest()
    return HttpCall.of(body, path="/dy/can_buy", query=query, headers=headers, operation="can_buy")


def test_douyin_sha256_header_and_legacy_md5_query() -> None:
    dy = adapter("douyin", DOUYIN)
    raw = json.dumps({"order_id": "D1", "count": 1}).encode()
    for md5_only in (False, True):
        got = dy.read(douyin_call(raw, md5_only=md5_only))
        assert isinstance(got, Inbound), (md5_only, got)
        assert got.operation == "can_buy" and got.body["order_id"] == "D1"
    tampered = douyin_call(raw)
    tampered = HttpCall.of(
        raw.replace(b"1}", b"9}"),
        query=tampered.query,
        headers=tampered.headers,
        operation="can_buy",
    )
    refused = dy.read(tampered)
    assert isinstance(refused, Refusal) and refused.key == "BAD_SIGN"


def test_douyin_wrong_sha256_never_falls_back_to_a_valid_md5() -> None:
    """A forger who can make one scheme pass must not choose it by breaking the other."""
    dy = adapter("douyin", DOUYIN)
    raw = b'{"order_id":"D2"}'
    good_md5 = douyin_call(raw, md5_only=True)
    both = HttpCall.of(
        raw,
        query=good_md5.query,
        headers={"x-life-sign": "0" * 64},
        operation="can_buy",
    )
    refused = dy.read(both)
    assert isinstance(refused, Refusal) and refused.key == "BAD_SIGN"


def test_douyin_answer_carries_the_body_beside_the_code() -> None:
    dy = adapter("douyin", DOUYIN)
    doc = dy.answer("OK", "create_order", body={"out_order_id": "O1"})
    assert doc == {"data": {"error_code": 0, "description": "success", "out_order_id": "O1"}}
    sold_out = dy.answer("ID_DAILY_LIMIT", "create_order")
    assert sold_out["data"]["error_code"] == 7


def test_douyin_stale_timestamp_refused() -> None:
    dy = adapter("douyin", DOUYIN, now=NOW + timedelta(hours=2))
    refused = dy.read(douyin_call(b'{"order_id":"D3"}'))
    assert isinstance(refused, Refusal) and refused.key == "BAD_SIGN"


# -------------------------------------------------------------------------- Fliggy


def test_fliggy_top_md5_over_sorted_query() -> None:
    fg = adapter("fliggy", FLIGGY)
    params = {"method": "create", "app_key": "fg-key", "timestamp": "2026-11-22 10:00:00"}
    s = "".join(f"{k}{v}" for k, v in sorted(params.items()))
    raw = b'{"orderId":"F1"}'
    # the spec signs the raw body after the sorted query (sign_body = true)
    sign = hashlib.md5(f"fg-secret{s}".encode() + raw + b"fg-secret").hexdigest().upper()
    ok = fg.read(HttpCall.of(raw, query={**params, "sign": sign}, operation="create"))
    assert isinstance(ok, Inbound) and ok.body == {"orderId": "F1"}
    bad = fg.read(HttpCall.of(raw, query={**params, "sign": sign[::-1]}, operation="create"))
    assert isinstance(bad, Refusal) and bad.key == "BAD_SIGN"
    missing = fg.read(HttpCall.of(raw, query=params, operation="create"))
    assert isinstance(missing, Refusal) and missing.detail == "signature missing"


def test_operation_by_url_path_uses_the_spec_path() -> None:
    spec = SPECS["douyin"]
    assert spec.operation_for_path("/can_buy/") == "can_buy"
    assert spec.operation_for_path("nope") is None

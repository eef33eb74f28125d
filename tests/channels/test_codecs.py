"""Codecs checked against implementations that are not ours: the ``openssl`` command for
AES, and ``hashlib``/``hmac`` applied inline to the formulas in the reference for the
signatures. A shared misunderstanding between codec and test would otherwise pass."""

from __future__ import annotations

import base64
import hashlib
import hmac
import shutil
import subprocess
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.channels import codecs
from hub.channels.codecs import CodecError
from plugins.channel_ctrip import protocol as ctrip
from plugins.channel_douyin import protocol as douyin
from plugins.channel_fliggy import protocol as fliggy
from plugins.channel_meituan import protocol as meituan

KEY = "0123456789abcdef"
IV = "fedcba9876543210"
MT_KEY = "ABCDEFGH12345678"

OPENSSL = shutil.which("openssl")
needs_openssl = pytest.mark.skipif(
    OPENSSL is None, reason="the openssl command is not installed: no independent AES"
)


def _openssl(args: list[str], data: bytes) -> bytes:
    assert OPENSSL is not None
    done = subprocess.run([OPENSSL, *args], input=data, capture_output=True, check=True)
    return done.stdout


def _aes_args(key: bytes, iv: bytes, decrypt: bool = False) -> list[str]:
    args = ["enc", "-aes-128-cbc", "-K", key.hex(), "-iv", iv.hex()]
    return [*args, "-d"] if decrypt else args


# ---------------------------------------------------------------- Ctrip letters + AES


def test_letters_hand_computed_vector() -> None:
    assert ctrip.letters_encode(bytes([0x00, 0xFF, 0x3A])) == "aappdk"
    assert ctrip.letters_decode("aappdk") == bytes([0x00, 0xFF, 0x3A])


@needs_openssl
def test_ctrip_encrypt_matches_openssl() -> None:
    plain = b'{"otaOrderId":"1234567890","items":[{"PLU":"P1","quantity":2}]}'
    cipher = _openssl(_aes_args(KEY.encode(), IV.encode()), plain)
    expected = "".join(chr(97 + (b >> 4)) + chr(97 + (b & 15)) for b in cipher)
    assert ctrip.ctrip_encrypt(plain, KEY, IV) == expected
    assert ctrip.ctrip_decrypt(expected, KEY, IV) == plain


@needs_openssl
def test_ctrip_decrypt_reads_what_openssl_wrote_and_back() -> None:
    plain = "实名 passengers 张三".encode()
    text = ctrip.ctrip_encrypt(plain, KEY, IV)
    raw = bytes((ord(text[i]) - 97) << 4 | (ord(text[i + 1]) - 97) for i in range(0, len(text), 2))
    assert _openssl(_aes_args(KEY.encode(), IV.encode(), decrypt=True), raw) == plain


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=300))
def test_ctrip_round_trip(plain: bytes) -> None:
    text = ctrip.ctrip_encrypt(plain, KEY, IV)
    assert set(text) <= set("abcdefghijklmnop")
    assert ctrip.ctrip_decrypt(text, KEY, IV) == plain


def _only_codec_errors(fn: Callable[..., bytes], *args: str) -> None:
    """Run a decrypt; succeed if it raises CodecError or (rarely, for a tampered last
    block whose padding still looks valid) returns bytes. Anything else fails the test."""
    try:
        out = fn(*args)
    except CodecError:
        return
    assert isinstance(out, bytes)


def test_every_tampered_letter_or_truncation_is_a_codec_error() -> None:
    plain = b'{"otaOrderId":"A1","quantity":3}'
    text = ctrip.ctrip_encrypt(plain, KEY, IV)
    for i in range(len(text)):
        for repl in ("q", "z", "A", "0", "é", chr(ord(text[i]) ^ 1)):
            tampered = text[:i] + repl + text[i + 1 :]
            if repl not in "abcdefghijklmnop":
                with pytest.raises(CodecError):
                    ctrip.ctrip_decrypt(tampered, KEY, IV)
            else:
                _only_codec_errors(ctrip.ctrip_decrypt, tampered, KEY, IV)
    for n in range(len(text)):
        with pytest.raises(CodecError):
            ctrip.ctrip_decrypt(text[:n], KEY, IV)


def test_wrong_key_or_garbage_is_a_codec_error() -> None:
    text = ctrip.ctrip_encrypt(b"hello world", KEY, IV)
    _only_codec_errors(ctrip.ctrip_decrypt, text, "x" * 16, IV)
    for bad in ("", "a", "abc", "pppp" * 3, "aaaa" * 8 + "a"):
        with pytest.raises(CodecError):
            ctrip.ctrip_decrypt(bad, KEY, IV)
    with pytest.raises(CodecError):
        ctrip.ctrip_decrypt(text, "short", IV)


def test_wrong_key_never_raises_anything_else() -> None:
    text = ctrip.ctrip_encrypt(b"x" * 40, KEY, IV)
    for k in range(50):
        _only_codec_errors(ctrip.ctrip_decrypt, text, f"{k:016d}", IV)


# ---------------------------------------------------------------- Meituan AES


@needs_openssl
def test_meituan_encrypt_matches_openssl_with_rotated_iv() -> None:
    plain = b'{"partnerId":1,"body":{"orderId":42}}'
    key = MT_KEY.encode()
    cipher = _openssl(_aes_args(key, key[8:] + key[:8]), plain)
    assert meituan.meituan_encrypt(plain, MT_KEY) == base64.b64encode(cipher).decode()
    assert meituan.meituan_decrypt(base64.b64encode(cipher).decode(), MT_KEY) == plain


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=300))
def test_meituan_round_trip(plain: bytes) -> None:
    assert meituan.meituan_decrypt(meituan.meituan_encrypt(plain, MT_KEY), MT_KEY) == plain


def test_meituan_garbage_is_a_codec_error() -> None:
    text = meituan.meituan_encrypt(b"hello", MT_KEY)
    for bad in ("", "not base64!", text[:-4], text[:10], "é"):
        with pytest.raises(CodecError):
            meituan.meituan_decrypt(bad, MT_KEY)


# ---------------------------------------------------------------- signatures


def test_md5_concat_and_ctrip_sign() -> None:
    parts = ["acc", "VerifyOrder", "2026-01-01 10:00:00", "aappdk", "1.0", "signkey"]
    expected = hashlib.md5("".join(parts).encode()).hexdigest()
    assert codecs.md5_concat(parts) == expected
    assert codecs.md5_concat(parts, case="upper") == expected.upper()
    assert ctrip.ctrip_sign(*parts) == expected


def test_meituan_mws_authorization() -> None:
    date = "Thu, 01 Jan 2026 02:00:00 GMT"
    mac = hmac.new(b"s3cret", b"POST /order/create\n" + date.encode(), hashlib.sha1).digest()
    expected = "MWS client-1:" + base64.b64encode(mac).decode()
    header = meituan.meituan_mws_authorization("client-1", "s3cret", "POST", "/order/create", date)
    assert header == expected
    assert meituan.verify_meituan_mws(header, "client-1", "s3cret", "POST", "/order/create", date)
    other = "other"
    assert not meituan.verify_meituan_mws(header, "client-1", other, "POST", "/order/create", date)
    assert not meituan.verify_meituan_mws(header, "client-1", "s3cret", "GET", "/x", date)


def test_douyin_spi_sign_both_schemes() -> None:
    query = {"timestamp": "1767225600000", "b": "2", "a": "1", "sign": "ignored"}
    body = b'{"order_id":"D1"}'
    s = b"sec&a=1&b=2&timestamp=1767225600000&http_body=" + body
    assert douyin.douyin_spi_sign("sec", query, body) == hashlib.sha256(s).hexdigest()
    assert douyin.douyin_spi_sign("sec", query, body, "md5") == hashlib.md5(s).hexdigest()
    assert douyin.verify_douyin_spi(hashlib.sha256(s).hexdigest(), "sec", query, body)
    assert not douyin.verify_douyin_spi("0" * 64, "sec", query, body)


def test_douyin_spi_sorts_repeated_keys_by_value_and_omits_empty_body() -> None:
    pairs = [("k", "b"), ("k", "a"), ("a", "z")]
    expected = hashlib.sha256(b"sec&a=z&k=a&k=b").hexdigest()
    assert douyin.douyin_spi_sign("sec", pairs, b"") == expected


def test_top_sign_md5_and_hmac() -> None:
    params = {"method": "taobao.travel.ticket.order.verify", "app_key": "K", "sign": "x"}
    s = "app_keyKmethodtaobao.travel.ticket.order.verify"
    md5 = hashlib.md5(("SEC" + s + "SEC").encode()).hexdigest().upper()
    hm = hmac.new(b"SEC", s.encode(), hashlib.md5).hexdigest().upper()
    assert fliggy.top_sign(params, "SEC") == md5
    assert fliggy.top_sign(params, "SEC", "hmac") == hm
    assert fliggy.verify_top(md5.lower(), params, "SEC")
    assert not fliggy.verify_top(hm, params, "SEC")
    sha = hmac.new(b"SEC", s.encode(), hashlib.sha256).hexdigest().upper()
    assert fliggy.top_sign(params, "SEC", "hmac-sha256") == sha
    assert fliggy.verify_top(sha, params, "SEC", "hmac-sha256")
    assert not fliggy.verify_top(sha, params, "SEC", "hmac")

"""Agency request signing: the documented example, every refusal code, and properties that
would catch a canonicalization or comparison bug."""

from __future__ import annotations

import doctest
import re
from collections.abc import Callable, Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict, CIMultiDictProxy, MultiDict, MultiDictProxy

from plugins.channel_agency import signing
from plugins.channel_agency.signing import (
    MemoryNonceCache,
    Query,
    SignatureError,
    VerifiedRequest,
    canonical_path,
    canonical_query,
    canonical_request,
    key_id_of,
    new_credentials,
    refuse_replay,
    sign,
    signed_headers,
    verify,
)

KEY, SECRET = "AKTESTKEY0000000000000", "s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t-x"
NOW = 1_767_225_600
PATH = "/agency/v1/groups"
QUERY = [("date", "2026-05-01"), ("slot", "09:00-10:00")]
BODY = b'{"head_count":40,"guide":"\xe5\xbc\xa0\xe4\xb8\x89"}'
NONCE = "0123456789abcdef0123"


def secrets_of(known: dict[str, str]) -> Callable[[str], str | None]:
    return known.get


def headers(**changes: str) -> dict[str, str]:
    h = signed_headers(KEY, SECRET, "POST", PATH, QUERY, BODY, now=NOW, nonce=NONCE)
    h.update(changes)
    return h


def check(
    h: Mapping[str, str],
    *,
    now: int = NOW,
    method: str = "POST",
    path: str = PATH,
    query: Query = QUERY,
    body: bytes = BODY,
) -> VerifiedRequest:
    """Verify as the hub would, against the request the headers were signed for unless
    a part is overridden."""
    return verify(h, method, path, query, body, secret_for=secrets_of({KEY: SECRET}), now=now)


def refused(code: str, h: Mapping[str, str], *, now: int = NOW) -> SignatureError:
    with pytest.raises(SignatureError) as info:
        check(h, now=now)
    assert info.value.code == code, info.value.message
    return info.value


# --- the documented scheme ----------------------------------------------------------------


def test_module_docstring_example_is_what_the_code_computes() -> None:
    # The worked example is what agency developers test their clients against.
    outcome = doctest.testmod(signing, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert outcome.attempted >= 3 and outcome.failed == 0


def test_canonical_request_lines() -> None:
    canonical = canonical_request("post", "/a/团 1", {"b": "2", "a": "x y+z"}, "10", NONCE, b"")
    assert canonical.split("\n") == [
        "POST",
        "/a/%E5%9B%A2%201",
        "a=x%20y%2Bz&b=2",
        "10",
        NONCE,
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    ]


def test_query_forms_agree_and_repeated_names_are_kept() -> None:
    pairs = [("tag", "b"), ("tag", "a"), ("q", ""), ("名", "值~")]
    expected = "%E5%90%8D=%E5%80%BC~&q=&tag=a&tag=b"  # "%" sorts before letters
    assert canonical_query(pairs) == expected
    assert canonical_query(MultiDictProxy(MultiDict(pairs))) == expected
    assert canonical_query("?tag=b&tag=a&q=&%E5%90%8D=%E5%80%BC~") == expected
    assert canonical_query(None) == canonical_query({}) == canonical_query("") == ""


def test_encoded_and_decoded_paths_canonicalize_alike() -> None:
    assert canonical_path("/orders/团 1") == canonical_path("/orders/%E5%9B%A2%201")
    assert canonical_path("") == "/"


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.text(max_size=8), st.text(max_size=8)), max_size=8).flatmap(
        lambda pairs: st.tuples(st.just(pairs), st.permutations(pairs))
    )
)
def test_canonical_query_ignores_input_order(
    case: tuple[list[tuple[str, str]], list[tuple[str, str]]],
) -> None:
    pairs, shuffled = case
    assert canonical_query(pairs) == canonical_query(shuffled)
    # Every pair survives, encoded so that '=' and '&' inside names and values are data.
    query = canonical_query(pairs)
    assert (query.count("&") + 1 if query else 0) == len(pairs)
    assert all(
        re.fullmatch(r"[A-Za-z0-9%._~-]*=[A-Za-z0-9%._~-]*", p) for p in query.split("&") if query
    )


# --- verification -------------------------------------------------------------------------


def test_signed_request_verifies() -> None:
    verified = check(headers())
    assert verified == VerifiedRequest(key_id=KEY, timestamp=NOW, nonce=NONCE, replay_ttl=301.0)


def test_headers_match_without_case_and_from_an_aiohttp_multidict() -> None:
    lower = {k.lower(): v for k, v in headers().items()}
    assert check(lower).key_id == KEY
    proxy = CIMultiDictProxy(CIMultiDict(headers()))
    query = MultiDictProxy(MultiDict(QUERY))
    assert verify(proxy, "POST", PATH, query, BODY, secret_for=secrets_of({KEY: SECRET}), now=NOW)


def test_fresh_nonce_by_default_and_key_id_of() -> None:
    a = signed_headers(KEY, SECRET, "GET", PATH, None, b"", now=NOW)
    b = signed_headers(KEY, SECRET, "GET", PATH, None, b"", now=NOW)
    assert a["X-Nonce"] != b["X-Nonce"]
    assert key_id_of({"x-agency-key": KEY}) == KEY and key_id_of({}) is None


@pytest.mark.parametrize("header", ["X-Agency-Key", "X-Timestamp", "X-Nonce", "X-Signature"])
def test_missing_or_empty_header(header: str) -> None:
    h = headers()
    del h[header]
    refused("MISSING_SIGNATURE", h)
    refused("MISSING_SIGNATURE", headers(**{header: " "}))


def test_header_sent_twice_is_refused() -> None:
    h = CIMultiDict(headers())
    h.add("x-nonce", "ffffffffffffffffffff")
    refused("MISSING_SIGNATURE", h)


def test_unknown_key() -> None:
    refused("UNKNOWN_KEY", headers(**{"X-Agency-Key": "AKNOSUCHKEY0000000000"}))
    refused("UNKNOWN_KEY", headers(**{"X-Agency-Key": "bad key with spaces"}))


def test_cheap_checks_come_before_the_key_lookup() -> None:
    looked_up: list[str] = []

    def secret_for(key: str) -> str | None:
        looked_up.append(key)
        return SECRET

    for bad in (headers(**{"X-Timestamp": str(NOW - 301)}), headers(**{"X-Nonce": "short"})):
        with pytest.raises(SignatureError):
            verify(bad, "POST", PATH, QUERY, BODY, secret_for=secret_for, now=NOW)
    assert looked_up == []


@pytest.mark.parametrize("skew", [-300, 0, 300])
def test_timestamp_inside_the_window_both_ways(skew: int) -> None:
    assert check(headers(), now=NOW - skew).timestamp == NOW


@pytest.mark.parametrize("skew", [-301, 301, 86_400])
def test_stale_timestamp_both_ways(skew: int) -> None:
    error = refused("STALE_TIMESTAMP", headers(), now=NOW - skew)
    assert ("ahead of" if skew > 0 else "behind") in error.message


@pytest.mark.parametrize("stamp", ["", "abc", "1.5e9", "-1", f"{NOW}.0", f"{NOW * 1000}"])
def test_malformed_timestamp(stamp: str) -> None:
    h = signed_headers(KEY, SECRET, "POST", PATH, QUERY, BODY, now=NOW, nonce=NONCE)
    h["X-Timestamp"] = stamp
    error = refused("MISSING_SIGNATURE" if not stamp else "STALE_TIMESTAMP", h)
    if stamp == f"{NOW * 1000}":
        assert "milliseconds" in error.message


@pytest.mark.parametrize("nonce", ["a" * 15, "a" * 65, "0123456789abcdef/", "0123456789abcdef 1"])
def test_bad_nonce(nonce: str) -> None:
    refused("BAD_NONCE", headers(**{"X-Nonce": nonce}))


@pytest.mark.parametrize("nonce", ["a" * 16, "Z" * 64, "123e4567-e89b-12d3-a456-426614174000"])
def test_good_nonces(nonce: str) -> None:
    h = signed_headers(KEY, SECRET, "POST", PATH, QUERY, BODY, now=NOW, nonce=nonce)
    assert check(h).nonce == nonce


def test_bad_signature_wrong_secret_carries_the_canonical_request() -> None:
    h = signed_headers(KEY, "another secret", "POST", PATH, QUERY, BODY, now=NOW, nonce=NONCE)
    error = refused("BAD_SIGNATURE", h)
    assert error.canonical == canonical_request("POST", PATH, QUERY, str(NOW), NONCE, BODY)
    assert SECRET not in str(error) and h["X-Signature"] not in str(error)


@pytest.mark.parametrize("signature", ["", "zz" * 32, "é" * 64, "ab" * 31, "ab" * 33])
def test_malformed_signature_is_refused_not_crashed(signature: str) -> None:
    refused(
        "MISSING_SIGNATURE" if not signature else "BAD_SIGNATURE",
        headers(**{"X-Signature": signature}),
    )


def test_upper_case_hex_signature_is_accepted() -> None:
    h = headers()
    h["X-Signature"] = h["X-Signature"].upper()
    assert check(h).key_id == KEY


def _mutate(text: str, at: int, char: str) -> str | None:
    at %= len(text)
    return None if text[at] == char else text[:at] + char + text[at + 1 :]


_CHARS = st.sampled_from("abcXYZ019-_/ ")


@settings(max_examples=300, deadline=None)
@given(
    target=st.sampled_from(["method", "path", "query", "body", "timestamp", "nonce"]),
    at=st.integers(0, 10_000),
    char=_CHARS,
)
def test_any_single_character_change_fails_verification(target: str, at: int, char: str) -> None:
    h = headers()
    method, path, query, body = "POST", PATH, list(QUERY), BODY
    if target == "method":
        changed = _mutate(method, at, char.upper())
        method = changed or method
    elif target == "path":
        changed = _mutate(path, at, char)
        path = changed or path
    elif target == "query":
        # Change one character of one name or value.
        flat = [part for pair in QUERY for part in pair]
        index = at % len(flat)
        changed = _mutate(flat[index], at // len(flat), char)
        flat[index] = changed or flat[index]
        query = list(zip(flat[::2], flat[1::2], strict=True))
    elif target == "body":
        changed = _mutate(body.decode(), at, char)
        body = (changed or "").encode()
    elif target == "timestamp":
        changed = _mutate(h["X-Timestamp"], at, char)
        h["X-Timestamp"] = changed or ""
    else:
        changed = _mutate(h["X-Nonce"], at, char)
        h["X-Nonce"] = changed or ""
    if changed is None:
        return  # the "change" put back the same character
    with pytest.raises(SignatureError):
        check(h, method=method, path=path, query=query, body=body)


@settings(max_examples=100, deadline=None)
@given(
    body=st.binary(max_size=200),
    query=st.lists(st.tuples(st.text(max_size=6), st.text(max_size=6)), max_size=4),
    path=st.text(min_size=1, max_size=20).map(lambda p: "/" + p.replace("%", "")),
)
def test_anything_signed_verifies(body: bytes, query: list[tuple[str, str]], path: str) -> None:
    h = signed_headers(KEY, SECRET, "PUT", path, query, body, now=NOW)
    assert check(h, method="PUT", path=path, query=query, body=body).key_id == KEY


# --- replay -------------------------------------------------------------------------------


class FakeTimer:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_replay_is_refused_until_the_window_has_passed() -> None:
    timer = FakeTimer()
    cache = MemoryNonceCache(timer=timer)
    verified = check(headers())
    await refuse_replay(cache, verified)
    with pytest.raises(SignatureError) as info:
        await refuse_replay(cache, check(headers()))
    assert info.value.code == "REPLAYED"
    # The same nonce from another key is someone else's.
    assert await cache.seen("AKOTHER", NONCE, 10) is False
    timer.now += verified.replay_ttl + 1
    assert await cache.seen(KEY, NONCE, 10) is False


def test_replay_ttl_covers_a_clock_running_ahead() -> None:
    # Signed 300 s in the future: still acceptable for 600 s from now.
    assert check(headers(), now=NOW - 300).replay_ttl == 601.0
    assert check(headers(), now=NOW + 300).replay_ttl == 1.0


async def test_full_cache_refuses_rather_than_forgets() -> None:
    timer = FakeTimer()
    cache = MemoryNonceCache(maxsize=2, timer=timer)
    assert not await cache.seen("k", "n1", 60)
    assert not await cache.seen("k", "n2", 5)
    with pytest.raises(SignatureError) as info:
        await cache.seen("k", "n3", 60)
    assert info.value.code == "REPLAY_CHECK_UNAVAILABLE"
    assert await cache.seen("k", "n1", 60)  # nothing was evicted
    timer.now += 6  # n2 expires: room again
    assert not await cache.seen("k", "n3", 60)
    assert len(cache) == 2


# --- credentials --------------------------------------------------------------------------


def test_new_credentials_shape_and_use() -> None:
    issued = {new_credentials() for _ in range(50)}
    assert len({k for k, _ in issued}) == 50 and len({s for _, s in issued}) == 50
    for key, secret in issued:
        assert re.fullmatch(r"AK[A-Z2-7]{20}", key)
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}", secret)
    key, secret = issued.pop()
    h = signed_headers(key, secret, "GET", "/agency/v1/balance", None, b"", now=NOW)
    got = verify(h, "GET", "/agency/v1/balance", {}, b"", secret_for={key: secret}.get, now=NOW + 5)
    assert got.key_id == key
    assert sign(secret, "x") != sign(SECRET, "x")

"""Douyin's SPI signatures (抖音来客), registered by name.

``douyin_spi_sha256`` / ``douyin_spi_md5``
    ``client_secret`` then ``&k=v`` for each query parameter sorted by key then value,
    ``sign`` excluded, then ``&http_body=<raw body>`` when the body is not empty; sha256
    hex (header ``x-life-sign``) or md5 hex (legacy query parameter ``sign``).

Written as the public documentation (``shared/reference/channels.md``) states it. The
code lives in the plugin so removing ``plugins/channel_douyin`` removes Douyin's protocol
too; the spec (``douyin.toml`` beside this file) names the schemes.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from importlib import resources
from typing import Any, Literal

from hub.sdk import hookimpl
from hub.sdk.channels import (
    ChannelSpec,
    ChannelSpecRegistry,
    HttpCall,
    SignatureCheck,
    SignatureSchemeRegistry,
    load_spec,
)

SPEC_FILE = resources.files(__package__) / "douyin.toml"
"""Douyin's channel spec, shipped inside this plugin."""
QueryParams = Mapping[str, str] | Iterable[tuple[str, str]]
Algorithm = Literal["sha256", "md5"]


def _pairs(query: QueryParams) -> list[tuple[str, str]]:
    items = query.items() if isinstance(query, Mapping) else query
    return [(str(k), str(v)) for k, v in items]


def douyin_spi_string(client_secret: str, query: QueryParams, body: bytes) -> bytes:
    """The exact bytes Douyin hashes (exposed so a failing signature can be logged)."""
    pairs = sorted((k, v) for k, v in _pairs(query) if k != "sign")
    out = client_secret + "".join(f"&{k}={v}" for k, v in pairs)
    raw = out.encode("utf-8")
    if body:
        raw += b"&http_body=" + body
    return raw


def douyin_spi_sign(
    client_secret: str, query: QueryParams, body: bytes, scheme: Algorithm = "sha256"
) -> str:
    """Douyin SPI signature: sha256 (``x-life-sign``) or legacy md5 (``sign``), hex."""
    data = douyin_spi_string(client_secret, query, body)
    if scheme == "sha256":
        return hashlib.sha256(data).hexdigest()
    if scheme == "md5":
        return hashlib.md5(data).hexdigest()
    raise ValueError(f"unknown Douyin scheme {scheme!r}")


def verify_douyin_spi(
    signature: str,
    client_secret: str,
    query: QueryParams,
    body: bytes,
    scheme: Algorithm = "sha256",
) -> bool:
    """Constant-time check; hex case is ignored (Douyin sends lower case)."""
    expected = douyin_spi_sign(client_secret, query, body, scheme)
    return hmac.compare_digest(expected.encode("ascii"), signature.lower().encode("utf-8"))


class SpiScheme:
    """One of Douyin's two SPI hashes as a `SignatureScheme`."""

    needs_client_id = False
    names_method = False
    uses_fields = False

    def __init__(self, algorithm: Algorithm) -> None:
        self.algorithm: Algorithm = algorithm

    def verify(self, check: SignatureCheck, given: str, call: HttpCall, doc: Any) -> bool:
        return verify_douyin_spi(given, check.secret, call.query, call.raw, self.algorithm)


@hookimpl
def register_signature_schemes(registry: SignatureSchemeRegistry) -> None:
    registry.add("douyin_spi_sha256", SpiScheme("sha256"), default=True)
    registry.add("douyin_spi_md5", SpiScheme("md5"), default=True)


@hookimpl
def register_channel_specs(registry: ChannelSpecRegistry) -> None:
    registry.add("douyin", SPEC_FILE, default=True)


def spec() -> ChannelSpec:
    """Douyin's spec, read from this plugin's own file."""
    return load_spec(SPEC_FILE)

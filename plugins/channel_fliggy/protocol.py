"""Fliggy's TOP (Taobao Open Platform) signatures, registered by name.

``top_md5`` / ``top_hmac_md5`` / ``top_hmac_sha256``
    parameters sorted by key, ``key + value`` concatenated (``sign`` excluded);
    ``upper(md5(secret + s + secret))``, ``upper(HMAC-MD5(secret, s))`` or
    ``upper(HMAC-SHA256(secret, s))`` — TOP's ``sign_method`` ``md5`` / ``hmac`` /
    ``hmac-sha256``, which the caller may name in its request (``method_location``);
    with ``sign_body`` the raw body is signed right after the parameters.

Our own calls to the TOP gateway are built in `plugins.channel_fliggy.top`. The code lives
in the plugin so removing ``plugins/channel_fliggy`` removes Fliggy's protocol too; the
spec (``fliggy.toml`` beside this file) names the schemes.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
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
    locate,
)

SPEC_FILE = resources.files(__package__) / "fliggy.toml"
"""Fliggy's channel spec, shipped inside this plugin."""

TopMethod = Literal["md5", "hmac", "hmac-sha256"]
TOP_SIGN_METHODS: dict[str, TopMethod] = {
    "top_md5": "md5",
    "top_hmac_md5": "hmac",
    "top_hmac_sha256": "hmac-sha256",
}
"""Spec signing scheme → TOP's ``sign_method`` value."""


def top_sign(
    params: Mapping[str, str],
    secret: str,
    method: TopMethod = "md5",
    body: bytes = b"",
) -> str:
    """Fliggy/TOP signature over the parameters sorted by key (``sign`` excluded).

    ``body``: a request whose business data travels as a raw (JSON) body signs it right
    after the sorted parameters, as the TOP SDKs' ``signTopRequest(params, body, …)``
    does for Qimen-style calls; without it a signed query could carry any body."""
    s = "".join(f"{k}{v}" for k, v in sorted(params.items()) if k != "sign").encode("utf-8")
    s += body
    key = secret.encode("utf-8")
    if method == "md5":
        return hashlib.md5(key + s + key).hexdigest().upper()
    if method == "hmac":
        return hmac.new(key, s, hashlib.md5).hexdigest().upper()
    if method == "hmac-sha256":
        return hmac.new(key, s, hashlib.sha256).hexdigest().upper()
    raise ValueError(f"unknown TOP sign_method {method!r}")


def verify_top(
    signature: str,
    params: Mapping[str, str],
    secret: str,
    method: TopMethod = "md5",
    body: bytes = b"",
) -> bool:
    """Constant-time check of a TOP signature (case-insensitive hex)."""
    expected = top_sign(params, secret, method, body)
    return hmac.compare_digest(expected.encode("ascii"), signature.upper().encode("utf-8"))


class TopScheme:
    """A ``top_*`` scheme: the caller names its ``sign_method`` (md5, hmac,
    hmac-sha256) where the spec's ``method_location`` says; a call naming none is signed
    with the scheme's own. A method TOP does not define is refused (ValueError: a bad
    signature, with the reason)."""

    needs_client_id = False
    names_method = True
    uses_fields = False

    def __init__(self, default: TopMethod) -> None:
        self.default: TopMethod = default

    def verify(self, check: SignatureCheck, given: str, call: HttpCall, doc: Any) -> bool:
        side = check.side
        named = locate(side.method_location, call, doc) if side.method_location else None
        method = named or self.default
        if method not in TOP_SIGN_METHODS.values():
            raise ValueError(f"unsupported sign_method {method!r}")
        params = {k: v for k, v in call.query if k != "sign"}
        body = call.raw if side.sign_body else b""
        return verify_top(given, params, check.secret, method, body)


@hookimpl
def register_signature_schemes(registry: SignatureSchemeRegistry) -> None:
    for name, method in TOP_SIGN_METHODS.items():
        registry.add(name, TopScheme(method), default=True)


@hookimpl
def register_channel_specs(registry: ChannelSpecRegistry) -> None:
    registry.add("fliggy", SPEC_FILE, default=True)


def spec() -> ChannelSpec:
    """Fliggy's spec, read from this plugin's own file."""
    return load_spec(SPEC_FILE)

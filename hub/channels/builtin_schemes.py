"""The schemes that belong to no single partner, registered like any plugin's.

``base64`` (a body in standard base64) and ``md5_concat`` (md5 hex of spec-listed
fields concatenated, ``$secret`` for the signing key) are used by Ctrip and by
spec-only partners alike (`examples/channel_specs/tripnest.toml`), so they are core: this
module is an essential plugin of `hub.plugins` (it cannot be blocked) and a third-party
plugin may still override either name.
"""

from __future__ import annotations

import base64
from typing import Any

from hub.channels.codecs import b64decode_strict, md5_concat, verify_hex
from hub.channels.loader import get_path
from hub.channels.schemes import CodecRegistry, SignatureSchemeRegistry
from hub.channels.verify import HttpCall, SignatureCheck
from hub.hookspecs import hookimpl


class Base64Codec:
    """A body written as standard base64 (no key)."""

    needs_key = False
    needs_iv = False

    def encode(self, plain: bytes, key: str, iv: str) -> str:
        return base64.b64encode(plain).decode("ascii")

    def decode(self, text: str, key: str, iv: str) -> bytes:
        return b64decode_strict(text)


class Md5Concat:
    """md5 hex of the spec's ``fields`` concatenated (``$secret`` = the signing key)."""

    needs_client_id = False
    names_method = False
    uses_fields = True

    def verify(self, check: SignatureCheck, given: str, call: HttpCall, doc: Any) -> bool:
        side = check.side
        parts = [check.secret if f == "$secret" else get_path(doc, f) for f in side.fields]
        if not all(isinstance(p, str) for p in parts):
            raise TypeError("signed fields must be strings")
        return verify_hex(md5_concat(parts, side.case), given)


@hookimpl
def register_codecs(registry: CodecRegistry) -> None:
    registry.add("base64", Base64Codec(), default=True)


@hookimpl
def register_signature_schemes(registry: SignatureSchemeRegistry) -> None:
    registry.add("md5_concat", Md5Concat(), default=True)

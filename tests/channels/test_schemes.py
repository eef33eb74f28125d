"""Schemes are found by name through the plugins that register them, so a partner's
protocol comes and goes with its plugin and a third-party plugin adds a new one without
touching the hub."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest

from hub.channels import SpecError, load_spec, parse_spec
from hub.channels.adapter import HttpCall, Inbound, Refusal, SpecInbound
from hub.channels.codecs import CodecError
from hub.channels.schemes import CodecRegistry, SignatureSchemeRegistry, installed
from hub.channels.verify import SignatureCheck
from hub.hookspecs import hookimpl
from hub.plugins import build_plugins
from hub.sdk.registries import RegistryError
from plugins.channel_ctrip import protocol as ctrip

SECRET = "s3cret-key"
SPEC = """
[channel]
name = "xorota"
display_name = "Xor OTA"
version = "1"

[envelope]
request_fields = ["op", "data"]
operation_path = "op"
body_path = "data"
body_encoding = "hex"
[envelope.response]
code_path = "code"
message_path = "msg"
body_path = "data"
success_code = "0"

[encryption]
scheme = "hex"
key_setting = "XOR_KEY"

[signing.inbound]
scheme = "hmac_sha1_body"
location = "header:x-sig"
secret_setting = "XOR_SECRET"

[operations.check]
canonical = "verify"
deadline_seconds = 3

[result_codes]
OK = { code = "0" }
default = { code = "9", message = "refused" }
"""


class HexCodec:
    """A toy codec a third-party plugin brings: the body in hex."""

    needs_key = False
    needs_iv = False

    def encode(self, plain: bytes, key: str, iv: str) -> str:
        return plain.hex()

    def decode(self, text: str, key: str, iv: str) -> bytes:
        try:
            return bytes.fromhex(text)
        except ValueError as exc:
            raise CodecError("not hex") from exc


class HmacBody:
    """A toy scheme: HMAC-SHA1 of the raw body, hex, in a header."""

    needs_client_id = False
    names_method = False
    uses_fields = False

    def verify(self, check: SignatureCheck, given: str, call: HttpCall, doc: Any) -> bool:
        mac = hmac.new(check.secret.encode(), call.raw, hashlib.sha1).hexdigest()
        return hmac.compare_digest(mac, given)


class XorPlugin:
    @hookimpl
    def register_codecs(self, registry: CodecRegistry) -> None:
        registry.add("hex", HexCodec())

    @hookimpl
    def register_signature_schemes(self, registry: SignatureSchemeRegistry) -> None:
        registry.add("hmac_sha1_body", HmacBody())


def _signed(doc: dict[str, Any], secret: str = SECRET) -> HttpCall:
    raw = json.dumps(doc).encode()
    sig = hmac.new(secret.encode(), raw, hashlib.sha1).hexdigest()
    return HttpCall.of(raw, headers={"x-sig": sig})


def test_a_third_party_plugin_brings_its_own_codec_and_signature() -> None:
    protocols = build_plugins(extra=[XorPlugin()], quiet=True).protocols
    spec = parse_spec(SPEC, "xorota.toml", protocols=protocols)
    settings = {"XOR_KEY": "unused", "XOR_SECRET": SECRET}
    inbound = SpecInbound(spec, settings, protocols=protocols)
    body = {"ticket": "T-1"}
    got = inbound.read(_signed({"op": "check", "data": json.dumps(body).encode().hex()}))
    assert isinstance(got, Inbound), got
    assert got.body == body
    answer = inbound.answer("OK", "check", body={"left": 2})
    assert bytes.fromhex(answer["data"]) == b'{"left":2}'  # encoded by the plugin's codec
    forged = inbound.read(_signed({"op": "check", "data": "00"}, secret="guess"))
    assert isinstance(forged, Refusal) and forged.key == "BAD_SIGN"
    not_hex = inbound.read(_signed({"op": "check", "data": "zz"}))
    assert isinstance(not_hex, Refusal) and not_hex.key == "PARSE_ERROR"


def test_without_the_plugin_the_scheme_is_unknown_at_load_and_at_start() -> None:
    protocols = build_plugins(quiet=True).protocols
    with pytest.raises(SpecError) as info:
        parse_spec(SPEC, "xorota.toml", protocols=protocols)
    assert info.value.field_path == "encryption.scheme"
    assert "unknown codec 'hex'" in info.value.message
    assert "'aes128cbc_letters'" in info.value.message  # the installed ones are listed
    spec = parse_spec(SPEC, "xorota.toml")  # spelling only: the names are not looked up
    with pytest.raises(SpecError, match=r"encryption\.scheme: unknown codec 'hex'"):
        SpecInbound(spec, {"XOR_KEY": "k", "XOR_SECRET": SECRET}, protocols=protocols)


def test_blocking_a_partner_plugin_takes_its_protocol_with_it() -> None:
    everything = build_plugins(quiet=True).protocols
    assert "aes128cbc_letters" in everything.codecs and "ctrip" in everything.specs
    without = build_plugins(blocked=["channel_ctrip"], quiet=True).protocols
    assert "aes128cbc_letters" not in without.codecs
    assert "ctrip" not in without.specs
    assert "md5_concat" in without.signatures  # core, shared with spec-only partners
    with pytest.raises(SpecError) as info:
        load_spec(ctrip.SPEC_FILE, protocols=without)
    assert info.value.field_path in ("encryption.scheme", "envelope.body_encoding")


def test_each_partner_registers_its_own_schemes() -> None:
    protocols = installed()
    owners = {e.name: e.source for e in protocols.codecs} | {
        e.name: e.source for e in protocols.signatures
    }
    assert owners == {
        "base64": "hub.channels.builtin_schemes",
        "md5_concat": "hub.channels.builtin_schemes",
        "aes128cbc_letters": "channel_ctrip",
        "aes128cbc_base64_iv_rotated": "channel_meituan",
        "hmac_sha1_mws": "channel_meituan",
        "douyin_spi_sha256": "channel_douyin",
        "douyin_spi_md5": "channel_douyin",
        "top_md5": "channel_fliggy",
        "top_hmac_md5": "channel_fliggy",
        "top_hmac_sha256": "channel_fliggy",
    }
    assert {e.name: e.source for e in protocols.specs} == {
        name: f"channel_{name}" for name in ("ctrip", "meituan", "douyin", "fliggy")
    }


def test_two_plugins_registering_one_scheme_name_is_an_error_naming_both() -> None:
    class Again:
        @hookimpl
        def register_codecs(self, registry: CodecRegistry) -> None:
            registry.add("hex", HexCodec())

    with pytest.raises(RegistryError, match="codec 'hex' registered twice"):
        build_plugins(extra=[XorPlugin(), Again()], load_entry_points=False, quiet=True)

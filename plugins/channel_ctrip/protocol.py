"""Ctrip's wire protocol: its letters cipher and its signature, registered by name.

Written exactly as the partner's public documentation (``shared/reference/channels.md``)
states it, so the sandbox partner and the hub agree byte for byte:

``aes128cbc_letters`` (a codec)
    AES-128-CBC with PKCS#5/7 padding; key and IV are the UTF-8 bytes of 16-character
    strings. The ciphertext is NOT base64: every byte ``b`` becomes two letters,
    ``chr(ord('a') + (b >> 4))`` then ``chr(ord('a') + (b & 0x0f))``, so only ``a``..``p``
    appear (``bytes([0x00, 0xFF, 0x3A])`` → ``"aappdk"``).
signature
    the core ``md5_concat`` scheme (`hub.channels.builtin_schemes`) over
    ``accountId + serviceName + requestTime + body + version + signKey`` with ``body`` the
    *encrypted* string; `ctrip_sign` writes it for callers outside the spec machinery.

The code lives in the plugin so removing ``plugins/channel_ctrip`` removes Ctrip's
protocol too; the spec (``ctrip.toml`` beside this file) names the scheme.
"""

from __future__ import annotations

from importlib import resources

from hub.sdk import hookimpl
from hub.sdk.channels import (
    ChannelSpec,
    ChannelSpecRegistry,
    CodecError,
    CodecRegistry,
    aes_cbc_decrypt,
    aes_cbc_encrypt,
    key16,
    load_spec,
    md5_concat,
)

SPEC_FILE = resources.files(__package__) / "ctrip.toml"
"""Ctrip's channel spec, shipped inside this plugin (found in a wheel as in a checkout)."""
LETTERS = "aes128cbc_letters"
_A = ord("a")


def letters_encode(data: bytes) -> str:
    """Ctrip's byte → two letters ``a``..``p`` (high nibble first)."""
    return "".join(chr(_A + (b >> 4)) + chr(_A + (b & 0x0F)) for b in data)


def letters_decode(text: str) -> bytes:
    """Inverse of `letters_encode`; any other letter or an odd length is a `CodecError`."""
    if len(text) % 2:
        raise CodecError("letters cipher has an odd length")
    out = bytearray()
    for i in range(0, len(text), 2):
        hi, lo = ord(text[i]) - _A, ord(text[i + 1]) - _A
        if not (0 <= hi < 16 and 0 <= lo < 16):
            raise CodecError(f"letters cipher has a character outside a..p at {i}")
        out.append(hi << 4 | lo)
    return bytes(out)


def ctrip_encrypt(plain: bytes, key: str, iv: str) -> str:
    """AES-128-CBC/PKCS5 with 16-character key and IV, written as letters a..p."""
    return letters_encode(aes_cbc_encrypt(plain, key16(key, "key"), key16(iv, "iv")))


def ctrip_decrypt(text: str, key: str, iv: str) -> bytes:
    """Inverse of `ctrip_encrypt`; every malformed input raises `CodecError`."""
    return aes_cbc_decrypt(letters_decode(text), key16(key, "key"), key16(iv, "iv"))


def ctrip_sign(
    account_id: str,
    service_name: str,
    request_time: str,
    body_cipher: str,
    version: str,
    sign_key: str,
) -> str:
    """Ctrip's ``sign``: lower md5 of the six fields in this order (body encrypted)."""
    return md5_concat([account_id, service_name, request_time, body_cipher, version, sign_key])


class LettersCodec:
    """``aes128cbc_letters``: `ctrip_encrypt` / `ctrip_decrypt` as a `BodyCodec`."""

    needs_key = True
    needs_iv = True

    def encode(self, plain: bytes, key: str, iv: str) -> str:
        return ctrip_encrypt(plain, key, iv)

    def decode(self, text: str, key: str, iv: str) -> bytes:
        return ctrip_decrypt(text, key, iv)


@hookimpl
def register_codecs(registry: CodecRegistry) -> None:
    registry.add(LETTERS, LettersCodec(), default=True)


@hookimpl
def register_channel_specs(registry: ChannelSpecRegistry) -> None:
    registry.add("ctrip", SPEC_FILE, default=True)


def spec() -> ChannelSpec:
    """Ctrip's spec, read from this plugin's own file (another partner's broken spec
    cannot take Ctrip down)."""
    return load_spec(SPEC_FILE)

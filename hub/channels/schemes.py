"""Named protocol schemes: the crypto and signatures a channel spec refers to by name.

A spec says ``body_encoding = "aes128cbc_letters"`` or ``scheme = "hmac_sha1_mws"``; the
name is looked up here, in registries the plugins fill through the ``register_codecs``
and ``register_signature_schemes`` hooks. So a partner's protocol code sits in its plugin
(Ctrip's letters cipher in ``plugins/channel_ctrip``) and the generic machinery
(`hub.channels.adapter`, `hub.channels.verify`, `hub.channels.outbound`) knows schemes
only by the contracts below. A third-party OTA plugin adds its own scheme the same way,
and a spec-only partner may use any scheme an installed plugin registered.

Partners' spec files are found the same way: a plugin registers its own file through
``register_channel_specs`` (``registry.add("ctrip", <path>)``), as a Home Assistant
integration keeps its manifest beside its code.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from hub.sdk.registries import Registry

if TYPE_CHECKING:
    from hub.channels.spec import ChannelSpec, SignatureSide
    from hub.channels.verify import HttpCall, SignatureCheck

NONE = "none"
"""The scheme name that means "no encoding" / "not signed"; never registered."""

SpecSource = Path | Traversable
"""Where a spec file is: a path, or a resource inside an installed package."""


class BodyCodec(Protocol):
    """A named body encoding (``[envelope].body_encoding``, ``[encryption].scheme``).

    ``encode`` turns the JSON bytes of a business body into the text the partner sends;
    ``decode`` is its inverse and raises `hub.channels.codecs.CodecError` (only) on any
    malformed input, so the adapter answers the partner's parse-error code. Keys come
    from the settings that ``[encryption]`` names; a codec without a key gets ``""``."""

    needs_key: bool
    needs_iv: bool

    def encode(self, plain: bytes, key: str, iv: str) -> str: ...

    def decode(self, text: str, key: str, iv: str) -> bytes: ...


class SignatureScheme(Protocol):
    """A named way a partner signs its calls (``[signing.*].scheme``).

    ``verify`` gets the whole call (`HttpCall`: raw body, method, target, query,
    headers), the parsed document and the `SignatureCheck` (the spec side, the secret and
    client id) and says whether ``given`` is the right signature; a reason to refuse may
    be raised as ``ValueError``. ``needs_client_id``: the spec side must name
    ``client_id_setting``; ``names_method``: the caller may name its variant at
    ``method_location`` (TOP's ``sign_method``); ``uses_fields``: the spec lists the
    signed ``fields`` (``md5_concat``)."""

    needs_client_id: bool
    names_method: bool
    uses_fields: bool

    def verify(self, check: SignatureCheck, given: str, call: HttpCall, doc: Any) -> bool: ...


@runtime_checkable
class HeaderSigner(Protocol):
    """A signature scheme that can also sign OUR calls in HTTP headers (Meituan's MWS):
    `hub.channels.outbound.SpecOutbound` adds the headers it returns."""

    def sign_headers(
        self, *, client_id: str, secret: str, method: str, url: str, body: bytes, at: datetime
    ) -> dict[str, str]: ...


class CodecRegistry(Registry[BodyCodec]):
    """Codec name → `BodyCodec` (``register_codecs``)."""

    kind = "codec"


class SignatureSchemeRegistry(Registry[SignatureScheme]):
    """Scheme name → `SignatureScheme` (``register_signature_schemes``)."""

    kind = "signature scheme"


class ChannelSpecRegistry(Registry[SpecSource]):
    """Channel name → its spec file (``register_channel_specs``)."""

    kind = "channel spec"


@dataclass(frozen=True, slots=True)
class Protocols:
    """The three registries one application's plugins filled, looked up by name."""

    codecs: CodecRegistry = field(default_factory=CodecRegistry)
    signatures: SignatureSchemeRegistry = field(default_factory=SignatureSchemeRegistry)
    specs: ChannelSpecRegistry = field(default_factory=ChannelSpecRegistry)

    def codec(self, name: str) -> BodyCodec | None:
        """The codec of ``name``; None for ``"none"``. Unknown: `RegistryError`."""
        return None if name == NONE else self.codecs.get(name)

    def signature(self, name: str) -> SignatureScheme | None:
        """The scheme of ``name``; None for ``"none"``. Unknown: `RegistryError`."""
        return None if name == NONE else self.signatures.get(name)

    def problems(self, spec: ChannelSpec) -> Iterator[tuple[str, str]]:
        """``(field path, message)`` for every scheme the spec names that no installed
        plugin registered, or whose requirements the spec does not meet."""
        enc = spec.encryption
        for path, name in (
            ("encryption.scheme", enc.scheme),
            ("envelope.body_encoding", spec.envelope.body_encoding),
        ):
            if name != NONE and name not in self.codecs:
                yield path, _unknown("codec", name, self.codecs.names())
        codec = self.codecs.find(enc.scheme) if enc.scheme != NONE else None
        if codec is not None and codec.needs_iv and not enc.iv_setting:
            yield "encryption", f"scheme {enc.scheme!r} needs iv_setting"
        for side_name in ("inbound", "inbound_fallback", "outbound"):
            side: SignatureSide | None = getattr(spec.signing, side_name)
            if side is None or side.scheme == NONE:
                continue
            where = f"signing.{side_name}"
            scheme = self.signatures.find(side.scheme)
            if scheme is None:
                yield (
                    f"{where}.scheme",
                    _unknown("signing scheme", side.scheme, self.signatures.names()),
                )
                continue
            if scheme.needs_client_id and not side.client_id_setting:
                yield where, f"scheme {side.scheme!r} needs client_id_setting"
            if side.fields and not scheme.uses_fields:
                yield where, f"'fields' does not apply to scheme {side.scheme!r}"
            if side.method_location is not None and not scheme.names_method:
                yield where, f"'method_location' does not apply to scheme {side.scheme!r}"


def _unknown(kind: str, name: str, known: list[str]) -> str:
    listed = ", ".join(repr(n) for n in [*known, NONE])
    return f"unknown {kind} {name!r} (installed: {listed})"


@functools.cache
def installed() -> Protocols:
    """The schemes and spec files of every plugin installed in this Python environment
    (entry points, nothing blocked), for code that runs without an application: tests,
    the sandbox, command-line tools. An application uses its own plugins' registries
    (`hub.plugins.HubPlugins.protocols`), which honour blocked and extra plugins."""
    from hub.plugins import build_plugins  # the manager imports the channels: not at top

    return build_plugins(quiet=True).protocols

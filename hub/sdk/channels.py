"""What an OTA channel plugin builds on: a partner's protocol as a spec
(`ChannelSpec`, loaded from TOML and validated), inbound requests verified and decoded
by the spec (`SpecInbound`), partner calls sent by it (`SpecOutbound`, `exchange`,
`CallbackSender`), the mapping of a partner order to the canonical `OrderRequest`, and
the outbox's `RetryPolicy`.

A partner's own crypto lives in its plugin and is registered by name through the
``register_codecs`` / ``register_signature_schemes`` hooks into the registries below
(`CodecRegistry`, `SignatureSchemeRegistry`); its spec file through
``register_channel_specs`` (`ChannelSpecRegistry`). The shared building blocks of such
schemes (AES-CBC, MD5 over concatenated parts, strict base64, constant-time hex
comparison) are here too, so a new partner's scheme is a few lines.

Not import-light: these modules sit on the hub's channel and order machinery.
"""

from __future__ import annotations

from hub.channels import ChannelSpec, CodecError, SpecError, load_all, load_spec
from hub.channels.adapter import Inbound, Refusal, SecretsMissing, SpecInbound, http_call
from hub.channels.codecs import (
    aes_cbc_decrypt,
    aes_cbc_encrypt,
    b64decode_strict,
    key16,
    md5_concat,
    verify_hex,
)
from hub.channels.generic import SpecChannel
from hub.channels.jsondoc import JsonDocError
from hub.channels.jsondoc import loads as load_json_doc
from hub.channels.mapping import to_order_request
from hub.channels.outbound import (
    OutboundConfigError,
    RateLimiter,
    SpecOutbound,
    callback_policies,
)
from hub.channels.schemes import (
    BodyCodec,
    ChannelSpecRegistry,
    CodecRegistry,
    HeaderSigner,
    Protocols,
    SignatureScheme,
    SignatureSchemeRegistry,
)
from hub.channels.sender import CallbackSender, OutboundReply, check_status, exchange
from hub.channels.verify import HttpCall, SignatureCheck, locate
from hub.outbox.policy import RetryPolicy

__all__ = [
    "BodyCodec",
    "CallbackSender",
    "ChannelSpec",
    "ChannelSpecRegistry",
    "CodecError",
    "CodecRegistry",
    "HeaderSigner",
    "HttpCall",
    "Inbound",
    "JsonDocError",
    "OutboundConfigError",
    "OutboundReply",
    "Protocols",
    "RateLimiter",
    "Refusal",
    "RetryPolicy",
    "SecretsMissing",
    "SignatureCheck",
    "SignatureScheme",
    "SignatureSchemeRegistry",
    "SpecChannel",
    "SpecError",
    "SpecInbound",
    "SpecOutbound",
    "aes_cbc_decrypt",
    "aes_cbc_encrypt",
    "b64decode_strict",
    "callback_policies",
    "check_status",
    "exchange",
    "http_call",
    "key16",
    "load_all",
    "load_json_doc",
    "load_spec",
    "locate",
    "md5_concat",
    "to_order_request",
    "verify_hex",
]

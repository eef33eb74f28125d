"""What an OTA channel plugin builds on: a partner's protocol as a spec
(`ChannelSpec`, loaded from TOML and validated), inbound requests verified and decoded
by the spec (`SpecInbound`), partner calls sent by it (`SpecOutbound`, `exchange`), the
mapping of a partner order to the canonical `OrderRequest`, and the outbox's
`RetryPolicy`.

Not import-light: these modules sit on the hub's channel and order machinery. The
codecs and signature schemes a spec names are today the fixed tables of
`hub.channels.codecs`; `CodecError` is what a malformed envelope raises.
"""

from __future__ import annotations

from hub.channels import ChannelSpec, CodecError, SpecError, load_all, load_spec
from hub.channels.adapter import Inbound, Refusal, SecretsMissing, SpecInbound, http_call
from hub.channels.generic import SpecChannel
from hub.channels.jsondoc import JsonDocError
from hub.channels.jsondoc import loads as load_json_doc
from hub.channels.loader import default_folder
from hub.channels.mapping import to_order_request
from hub.channels.outbound import OutboundConfigError, SpecOutbound, callback_policies
from hub.channels.sender import check_status, exchange
from hub.channels.top import TopOutbound
from hub.outbox.policy import RetryPolicy

__all__ = [
    "ChannelSpec",
    "CodecError",
    "Inbound",
    "JsonDocError",
    "OutboundConfigError",
    "Refusal",
    "RetryPolicy",
    "SecretsMissing",
    "SpecChannel",
    "SpecError",
    "SpecInbound",
    "SpecOutbound",
    "TopOutbound",
    "callback_policies",
    "check_status",
    "default_folder",
    "exchange",
    "http_call",
    "load_all",
    "load_json_doc",
    "load_spec",
    "to_order_request",
]

"""TLS of the simulated api.mch.weixin.qq.com: WeChat Pay's ``/secapi`` paths (v2
refunds) need the merchant's API certificate, a TLS client certificate issued by WeChat
whose CN is the merchant id.

`SimTLS` holds what the simulator serves with (a server certificate for the loopback
address, the CA that issues merchant certificates); `server_context` turns it into an
`ssl.SSLContext` that refuses the handshake of a client without a certificate from that
CA (``ssl.CERT_REQUIRED``). The PEM material comes from the caller (the tests make a
throw-away CA), so nothing secret lives in the sandbox.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass

from aiohttp import web

from plugins.channel_wechat.client_tls import load_pem_chain


@dataclass(frozen=True)
class SimTLS:
    server_cert_pem: str  # the chain the simulator presents (for 127.0.0.1)
    server_key_pem: str
    client_ca_pem: str  # issuer of the merchants' API certificates


def server_context(tls: SimTLS) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cadata=tls.client_ca_pem)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    # TLS 1.2: the client certificate is judged inside the handshake, so a refused one
    # fails the client's connect. (Under TLS 1.3 the client has finished its handshake
    # before the server judges its certificate; the refusal then reaches it as a reset of
    # the first request, indistinguishable from a network fault.)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.verify_mode = ssl.CERT_REQUIRED
    load_pem_chain(ctx, (tls.server_cert_pem.rstrip() + "\n" + tls.server_key_pem).encode())
    return ctx


def client_certificate_cn(request: web.Request) -> str | None:
    """The CN of the verified client certificate of this connection (None over plain
    HTTP: the simulator's TLS listener refuses a handshake without one)."""
    transport = request.transport
    cert = transport.get_extra_info("peercert") if transport is not None else None
    if not cert:
        return None
    for rdn in cert.get("subject", ()):
        for name, value in rdn:
            if name == "commonName":
                return str(value)
    return None

"""A throw-away PKI for the client-certificate tests, made with `cryptography` (EC keys:
milliseconds): a test CA standing in for WeChat's, the simulator's server certificate
for 127.0.0.1, the merchant's API certificate (CN = merchant id, as WeChat issues it) as
PEM and as PKCS#12, and an impostor's certificate from another CA."""

from __future__ import annotations

import base64
import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from sandbox.wechat.tls import SimTLS


@dataclass(frozen=True)
class Issued:
    cert_pem: str
    key_pem: str


@dataclass(frozen=True)
class Pki:
    ca_pem: str
    server: Issued
    merchant: Issued  # the merchant's API certificate, signed by the CA
    p12: bytes  # the same, as WeChat's apiclient_cert.p12
    p12_password: str
    impostor: Issued  # CN = the merchant id, but from another CA
    other_merchant: Issued  # from the CA, but another merchant's

    def sim_tls(self) -> SimTLS:
        return SimTLS(self.server.cert_pem, self.server.key_pem, self.ca_pem)

    def client_settings(self, form: str, cert: Issued | None = None) -> dict[str, str]:
        """The hub's certificate settings: ``pem`` (`cert`, the merchant's by default),
        ``p12`` (the merchant's, with its password), ``none``."""
        if form == "pem":
            cert = cert or self.merchant
            return {"WECHAT_CLIENT_CERT": cert.cert_pem, "WECHAT_CLIENT_KEY": cert.key_pem}
        if form == "p12":
            return {
                "WECHAT_CLIENT_P12": base64.b64encode(self.p12).decode(),
                "WECHAT_CLIENT_P12_PASSWORD": self.p12_password,
            }
        return {}


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "tickethub tests"),
        ]
    )


def _pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _ca(cn: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(_name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _leaf(
    ca: tuple[ec.EllipticCurvePrivateKey, x509.Certificate], cn: str, *, server: bool
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    ca_key, ca_cert = ca
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(cn))]),
            critical=False,
        )
    return key, builder.sign(ca_key, hashes.SHA256())


def _issued(pair: tuple[ec.EllipticCurvePrivateKey, x509.Certificate]) -> Issued:
    key, cert = pair
    return Issued(cert.public_bytes(serialization.Encoding.PEM).decode(), _pem(key))


def make_pki(mchid: str, *, p12_password: str = "p12-secret") -> Pki:
    ca = _ca("Test WeChat Pay CA")
    merchant_key, merchant_cert = _leaf(ca, mchid, server=False)
    p12 = pkcs12.serialize_key_and_certificates(
        b"apiclient",
        merchant_key,
        merchant_cert,
        None,
        serialization.BestAvailableEncryption(p12_password.encode()),
    )
    return Pki(
        ca_pem=ca[1].public_bytes(serialization.Encoding.PEM).decode(),
        server=_issued(_leaf(ca, "127.0.0.1", server=True)),
        merchant=_issued((merchant_key, merchant_cert)),
        p12=p12,
        p12_password=p12_password,
        impostor=_issued(_leaf(_ca("Some Other CA"), mchid, server=False)),
        other_merchant=_issued(_leaf(ca, "1900000000", server=False)),
    )

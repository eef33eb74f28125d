"""Generic, spec-driven inbound handling: what every OTA call needs before business logic.

A partner's call is parsed, authenticated, decrypted and answered in the partner's own
envelope exactly as its `ChannelSpec` says, so a plugin per OTA only writes what a spec
cannot express (operation-specific bodies and answers). The adapter never raises for bad
input: every refusal is a `Refusal` carrying the partner's code, because partners retry
or escalate on a transport error (HTTP 500) but act correctly on their own codes.

Covered today: ``json`` envelopes with the operation in a field, ``md5_concat`` signatures
in the document, ``aes128cbc_letters`` / ``base64`` / ``none`` bodies, and the
``[mapping]`` table to a canonical `OrderRequest`. Other schemes (header or query
signatures, Meituan encryption) are named by specs but still refused here as
unsupported — see `SpecInbound.__init__`.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from hub.channels.codecs import CodecError, ctrip_decrypt, ctrip_encrypt, md5_concat, verify_hex
from hub.channels.loader import PathError, get_path, parse_path
from hub.channels.spec import ChannelSpec
from hub.domain import Contact, Denial, DenialCode, OrderLine, OrderRequest, Visitor
from hub.domain.order import IdType
from hub.orders.outcome import Outcome

_SUPPORTED_SIGNING = ("md5_concat", "none")
_SUPPORTED_BODIES = ("aes128cbc_letters", "base64", "none")


class SecretsMissing(ValueError):
    """The channel settings lack a secret the spec names: a deployment error, at start-up."""


@dataclass(frozen=True, slots=True)
class Refusal:
    """A call refused before business logic: the canonical key (``BAD_SIGN``, a
    `DenialCode`, ...) and a human detail for the partner's message."""

    key: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Inbound:
    """A verified, decrypted call: the operation name and the decoded business body."""

    operation: str
    body: Any
    document: dict[str, Any]


def _set_path(doc: dict[str, Any], path: str, value: Any) -> None:
    """Write ``value`` at a dotted path of plain keys, creating dicts on the way."""
    parts = parse_path(path)
    cur = doc
    for part in parts[:-1]:
        if not isinstance(part, str):
            raise ValueError(f"response paths cannot index lists: {path}")
        cur = cur.setdefault(part, {})
    last = parts[-1]
    if not isinstance(last, str):
        raise ValueError(f"response paths cannot index lists: {path}")
    cur[last] = value


class SpecInbound:
    """Parse, verify and answer one partner's calls as its spec describes them."""

    def __init__(self, spec: ChannelSpec, settings: Mapping[str, Any]) -> None:
        """Secrets are read once from the channel settings by the names the spec gives;
        a missing one fails here (at start-up), not on the partner's first order."""
        self.spec = spec
        env, sig = spec.envelope, spec.signing.inbound
        if env.body_encoding not in _SUPPORTED_BODIES:
            raise ValueError(f"{spec.channel.name}: body encoding {env.body_encoding} unsupported")
        if sig.scheme not in _SUPPORTED_SIGNING or (
            sig.location is not None and not sig.location.startswith("body:")
        ):
            raise ValueError(f"{spec.channel.name}: inbound signing {sig.scheme} unsupported")

        def secret(name: str | None) -> str:
            if name is None:  # the spec checks a value but names no setting for it
                raise SecretsMissing(f"{spec.channel.name}: spec names no setting to check")
            value = settings.get(name)
            if not isinstance(value, str) or not value:
                raise SecretsMissing(f"{spec.channel.name}: setting {name} is required")
            return value

        self.account_id = secret(env.account_setting) if env.account_path else ""
        self.sign_key = secret(sig.secret_setting) if sig.scheme != "none" else ""
        enc = spec.encryption
        self.aes_key = secret(enc.key_setting) if enc.scheme != "none" else ""
        self.aes_iv = secret(enc.iv_setting) if enc.scheme == "aes128cbc_letters" else ""

    # ------------------------------------------------------------------ inbound

    def read(self, raw: bytes) -> Inbound | Refusal:
        """Every check the spec expresses, in the order a partner expects its codes:
        parse, account, signature, then the body (a body is only decrypted once the
        sender is known to hold the key)."""
        env = self.spec.envelope
        if len(raw) > self.spec.limits.max_body_bytes:
            return Refusal("PARSE_ERROR", "body too large")
        try:
            doc = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            return Refusal("PARSE_ERROR", "not JSON")
        if not isinstance(doc, dict):
            return Refusal("PARSE_ERROR", "not a JSON object")
        try:
            operation = get_path(doc, env.operation_path) if env.operation_path else ""
            if env.account_path:
                account = get_path(doc, env.account_path)
        except PathError as exc:
            return Refusal("PARSE_ERROR", str(exc))
        if not isinstance(operation, str):
            return Refusal("PARSE_ERROR", "operation is not a string")
        if env.account_path and account != self.account_id:
            return Refusal("BAD_ACCOUNT", "unknown account")
        refusal = self._check_sign(doc)
        if refusal is not None:
            return refusal
        try:
            cipher = get_path(doc, env.body_path) if env.body_path else doc
            body = self._decode(cipher)
        except (PathError, CodecError) as exc:
            return Refusal("PARSE_ERROR", str(exc))
        return Inbound(operation=operation, body=body, document=doc)

    def _check_sign(self, doc: dict[str, Any]) -> Refusal | None:
        sig = self.spec.signing.inbound
        if sig.scheme == "none":
            return None
        assert sig.location is not None  # validated: md5_concat in the document
        try:
            given = get_path(doc, sig.location.removeprefix("body:"))
            parts = [self.sign_key if f == "$secret" else get_path(doc, f) for f in sig.fields]
        except PathError as exc:
            return Refusal("BAD_SIGN", str(exc))
        if not isinstance(given, str) or not all(isinstance(p, str) for p in parts):
            return Refusal("BAD_SIGN", "signed fields must be strings")
        if not verify_hex(md5_concat(parts, sig.case), given):
            return Refusal("BAD_SIGN", "signature does not match")
        return None

    def _decode(self, cipher: Any) -> Any:
        enc = self.spec.envelope.body_encoding
        if enc == "none":
            return cipher
        if not isinstance(cipher, str):
            raise CodecError("encoded body must be a string")
        if enc == "aes128cbc_letters":
            plain = ctrip_decrypt(cipher, self.aes_key, self.aes_iv)
        else:
            try:
                plain = base64.b64decode(cipher.encode("ascii"), validate=True)
            except (binascii.Error, UnicodeEncodeError) as exc:
                raise CodecError("body is not base64") from exc
        try:
            return json.loads(plain)
        except (ValueError, UnicodeDecodeError) as exc:
            raise CodecError("decrypted body is not JSON") from exc

    # ------------------------------------------------------------------ answers

    def encode_body(self, body: Any) -> Any:
        """The response body as the partner expects it (encrypted for Ctrip)."""
        enc = self.spec.envelope.body_encoding
        if enc == "none":
            return body
        plain = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        if enc == "aes128cbc_letters":
            return ctrip_encrypt(plain, self.aes_key, self.aes_iv)
        return base64.b64encode(plain).decode("ascii")

    def answer(
        self, key: str, operation: str | None = None, *, body: Any = None, detail: str = ""
    ) -> dict[str, Any]:
        """The response document for a canonical result key (``OK``, a `DenialCode`, a
        special); the partner's code and message come from the spec's table."""
        resp = self.spec.envelope.response
        code, message = self.spec.result(key, operation)
        doc: dict[str, Any] = {}
        _set_path(doc, resp.code_path, code)
        _set_path(doc, resp.message_path, f"{message}: {detail}" if detail else message)
        ok = code == str(resp.success_code)
        if body is not None and resp.body_path and (ok or not resp.body_only_on_success):
            _set_path(doc, resp.body_path, self.encode_body(body))
        return doc

    def refuse(self, refusal: Refusal, operation: str | None = None) -> dict[str, Any]:
        return self.answer(refusal.key, operation, detail=refusal.detail)

    def deny(self, denial: Denial, operation: str | None = None) -> dict[str, Any]:
        return self.answer(str(denial.code), operation, detail=denial.reason)

    def outcome(self, outcome: Outcome, operation: str, body: Any = None) -> dict[str, Any]:
        """A hub `Outcome` in the partner's words; a denial's own reason (e.g. "Only 1
        left") follows the partner's message so the real stock reaches the partner."""
        if outcome.ok:
            return self.answer("OK", operation, body=body)
        return self.answer(
            outcome.code or "INTERNAL", operation, detail=str(outcome.body.get("message", ""))
        )


# ---------------------------------------------------------------------- mapping


def _amount_fen(value: Any, unit: str) -> int:
    try:
        amount = Decimal(str(value))
    except InvalidOperation as exc:
        raise ValueError(f"amount {value!r} is not a number") from exc
    fen = amount * 100 if unit == "yuan" else amount
    if fen != fen.to_integral_value() or fen < 0:
        raise ValueError(f"amount {value!r} is not a whole number of fen")
    return int(fen)


def _opt(obj: Any, path: str | None) -> Any:
    if path is None:
        return None
    try:
        return get_path(obj, path)
    except PathError:
        return None


def to_order_request(
    spec: ChannelSpec, body: Any, operation: str, *, confirm: bool = False
) -> OrderRequest | Denial:
    """The canonical order a partner body describes, by the spec's ``[mapping]``.

    Missing or malformed fields become an ``INVALID_REQUEST`` denial (Ctrip 1005) and an
    id type outside the table an ``INVALID_ID_NUMBER`` one, so the plugin answers in the
    partner's vocabulary instead of letting a validation error escape.
    """
    m = spec.mapping
    if m is None:
        return Denial(DenialCode.INVALID_REQUEST, f"{spec.channel.name} has no [mapping]")
    try:
        partner_id = str(get_path(body, m.partner_order_id))
        product = str(get_path(body, m.product))
        quantity = int(get_path(body, m.quantity))
        raw_date = get_path(body, m.travel_date) if m.travel_date else None
    except (PathError, TypeError, ValueError) as exc:
        return Denial(DenialCode.INVALID_REQUEST, f"{operation}: {exc}")
    if raw_date is None:
        return Denial(DenialCode.INVALID_REQUEST, f"{operation}: no travel date")
    try:
        travel_date = datetime.strptime(str(raw_date), m.date_format).date()
    except ValueError:
        return Denial(DenialCode.DATE_NOT_USABLE, f"bad date {raw_date!r}")
    amount = None
    raw_amount = _opt(body, m.amount)
    if raw_amount is not None:
        try:
            amount = _amount_fen(raw_amount, m.amount_unit) * quantity
        except ValueError as exc:
            return Denial(DenialCode.INVALID_REQUEST, str(exc))
    visitors: list[Visitor] = []
    raw_visitors = _opt(body, m.visitors) or []
    if not isinstance(raw_visitors, list):
        return Denial(DenialCode.INVALID_REQUEST, "passengers must be a list")
    for i, raw in enumerate(raw_visitors):
        kind = _opt(raw, m.visitor.id_type)
        id_type = m.id_types.get(str(kind)) if kind is not None else IdType.ID_CARD
        if id_type is None:
            return Denial(DenialCode.INVALID_ID_NUMBER, f"visitor {i}: unknown id type {kind}")
        try:
            visitors.append(
                Visitor(
                    name=str(_opt(raw, m.visitor.name) or ""),
                    id_type=id_type,
                    id_number=_opt(raw, m.visitor.id_number),
                    phone=_opt(raw, m.visitor.phone),
                )
            )
        except ValueError as exc:
            return Denial(DenialCode.INVALID_REQUEST, f"visitor {i}: {exc}")
    contact = None
    if m.contact is not None:
        name, phone = _opt(body, m.contact.name), _opt(body, m.contact.phone)
        email = _opt(body, m.contact.email)
        if name or phone or email:
            contact = Contact(name=str(name or ""), phone=phone, email=email)
    try:
        return OrderRequest(
            channel=spec.channel.name,
            partner_order_id=partner_id,
            lines=(OrderLine(product_id=product, quantity=quantity),),
            visitors=tuple(visitors),
            contact=contact,
            travel_date=travel_date,
            slot=str(_opt(body, m.slot) or ""),
            amount=amount,
            confirm=confirm,
        )
    except ValueError as exc:
        return Denial(DenialCode.INVALID_REQUEST, f"{operation}: {exc}")

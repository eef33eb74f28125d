"""A partner body to the canonical `OrderRequest`, by the spec's ``[mapping]`` table.

Missing or malformed fields become denials (not exceptions) so every plugin answers them
in the partner's own vocabulary, with nothing written. That includes a value the
canonical model refuses (a contact name over 100 characters, a phone over 32): an
exception would reach the partner as "system error, retry", and it would retry an order
that can never pass. The denial names the field as the PARTNER wrote it (its spec path,
``contactPerson.name``, ``passengers[1].name``) with the model's reason, never the value.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import ValidationError

from hub.channels.loader import PathError, get_path
from hub.channels.spec import ChannelSpec
from hub.domain import Contact, Denial, DenialCode, OrderLine, OrderRequest, Visitor
from hub.domain.order import IdType


def _amount_fen(value: Any, unit: str) -> int:
    try:
        amount = Decimal(str(value))
    except InvalidOperation as exc:
        raise ValueError(f"amount {value!r} is not a number") from exc
    fen = amount * 100 if unit == "yuan" else amount
    if fen != fen.to_integral_value() or fen < 0:
        raise ValueError(f"amount {value!r} is not a whole number of fen")
    return int(fen)


def _invalid(exc: ValidationError, fields: dict[str, str | None], where: str) -> Denial:
    """The first error of a canonical model as an ``INVALID_REQUEST`` naming the partner's
    field: the innermost name of the error's location that ``fields`` maps to a spec path
    (else the location itself, under ``where``). The input is left out (personal data)."""
    error = exc.errors(include_url=False, include_input=False)[0]
    loc = [str(part) for part in error["loc"]]
    path = next((fields[p] for p in reversed(loc) if fields.get(p)), None)
    name = path or ".".join([where, *loc] if where else loc) or "body"
    return Denial(DenialCode.INVALID_REQUEST, f"{name}: {error['msg']}")


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
        except ValidationError as exc:
            at, v = f"{m.visitors}[{i}]", m.visitor
            paths = {"name": v.name, "id_number": v.id_number, "phone": v.phone}
            return _invalid(exc, {k: f"{at}.{p}" for k, p in paths.items() if p}, at)
    contact = None
    if m.contact is not None:
        name, phone = _opt(body, m.contact.name), _opt(body, m.contact.phone)
        email = _opt(body, m.contact.email)
        if name or phone or email:
            try:
                contact = Contact(name=str(name or ""), phone=phone, email=email)
            except ValidationError as exc:
                c = m.contact
                return _invalid(exc, {"name": c.name, "phone": c.phone, "email": c.email}, "")
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
    except ValidationError as exc:
        named = {
            "partner_order_id": m.partner_order_id,
            "product_id": m.product,
            "quantity": m.quantity,
            "slot": m.slot,
            "visitors": m.visitors,
        }
        return _invalid(exc, named, "")

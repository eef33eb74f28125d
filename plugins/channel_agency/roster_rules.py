"""The per-visitor rules of a roster, shared by files and JSON so both say the same thing.

Input is one mapping of field name to raw cell value per visitor row; output is the
normalized visitors of the rows without errors, and every error and warning located by
row and field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

from hub.domain import IdType, Visitor
from hub.domain.masking import mask_id
from plugins.channel_agency.roster_fields import (
    ID_NUMBER,
    ID_TYPE,
    NAME,
    PHONE,
    Problem,
    check_id_number,
    id_number_text,
    parse_id_type,
    parse_name,
    parse_phone,
)
from plugins.channel_agency.roster_model import (
    DUPLICATE_IN_GROUP,
    EMPTY_ROSTER,
    FILE_ROW,
    MISSING_ID,
    RosterParse,
    RowError,
)

Values = Mapping[str, object]


def _id_number(
    raw: object,
    kind: IdType | None,
    *,
    row: int,
    first_row: dict[str, int],
    today: date | None,
    typed: bool,
) -> tuple[str, Problem | None]:
    text, problem = id_number_text(raw)
    if problem is not None:
        return text, problem
    if kind is None:  # the type is wrong (reported); its number cannot be judged
        return text, None if text else Problem(MISSING_ID, "ID number is missing")
    problem = check_id_number(text, kind, today=today, typed=typed)
    if problem is not None:
        return text, problem
    if text in first_row:
        return text, Problem(
            DUPLICATE_IN_GROUP, f"ID number {mask_id(text)} is already on row {first_row[text]}"
        )
    first_row[text] = row
    return text, None


def check_records(
    records: Sequence[tuple[int, Values]], *, today: date | None, typed: bool
) -> RosterParse:
    """Check ``(row, values)`` records in order; duplicates point back at the first row
    that carried the ID number."""
    result = RosterParse()
    if not records:
        result.errors.append(RowError(FILE_ROW, "roster", EMPTY_ROSTER, "no visitors"))
        return result
    first_row: dict[str, int] = {}
    for row, values in records:
        name, name_problem = parse_name(values.get(NAME))
        kind, kind_problem = parse_id_type(values.get(ID_TYPE))
        id_number, id_problem = _id_number(
            values.get(ID_NUMBER), kind, row=row, first_row=first_row, today=today, typed=typed
        )
        phone, phone_problem = parse_phone(values.get(PHONE))
        failed = False
        for fld, problem in (
            (NAME, name_problem),
            (ID_TYPE, kind_problem),
            (ID_NUMBER, id_problem),
            (PHONE, phone_problem),
        ):
            if problem is None:
                continue
            failed = failed or not problem.warning
            target = result.warnings if problem.warning else result.errors
            target.append(RowError(row, fld, problem.code, problem.message))
        if not failed and kind is not None:
            result.visitors.append(
                Visitor(name=name, id_type=kind, id_number=id_number, phone=phone)
            )
            result.rows.append(row)
    return result

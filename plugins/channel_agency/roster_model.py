"""The vocabulary of roster checking: what a problem looks like and what a parse returns.

Kept apart from the readers and the rules so the CSV and Excel readers, the rules and the
writers can all speak it without importing each other. Callers import everything from
:mod:`plugins.channel_agency.roster`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Final

from hub.domain import Visitor

#: Default limits. A group of 500 fills several coaches; anything larger is a mistake or an
#: attack, and both should be refused before any work is done on it.
DEFAULT_MAX_ROWS: Final = 500
DEFAULT_MAX_BYTES: Final = 2 * 1024 * 1024
#: Columns read per row: a roster has four; a sheet styled out to column XFD has 16384.
MAX_COLUMNS: Final = 50

# --- codes -------------------------------------------------------------------------------
# Whole-file / whole-roster problems: always reported on row 0.
ROSTER_TOO_LARGE: Final = "ROSTER_TOO_LARGE"
UNREADABLE: Final = "UNREADABLE"
MISSING_COLUMN: Final = "MISSING_COLUMN"
DUPLICATE_COLUMN: Final = "DUPLICATE_COLUMN"
EMPTY_ROSTER: Final = "EMPTY_ROSTER"
TOO_MANY_ROWS: Final = "TOO_MANY_ROWS"
# Per-visitor problems: reported on the visitor's row.
MISSING_NAME: Final = "MISSING_NAME"
INVALID_NAME: Final = "INVALID_NAME"
MISSING_ID: Final = "MISSING_ID"
INVALID_ID_NUMBER: Final = "INVALID_ID_NUMBER"
UNKNOWN_ID_TYPE: Final = "UNKNOWN_ID_TYPE"
DUPLICATE_IN_GROUP: Final = "DUPLICATE_IN_GROUP"
INVALID_PHONE: Final = "INVALID_PHONE"

#: Row number used for problems that concern the whole file or roster, not one visitor.
FILE_ROW: Final = 0


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem, located the way the agency will look for it.

    ``row`` is the row number the agency sees in its own sheet: the header is row 1 (or
    wherever it really is, when a title row sits above it), so the first visitor is
    usually row 2. For JSON rosters it is the 1-based position in the list. Row 0 means
    the whole file or roster. ``message`` is short English and never contains a full ID
    number or phone number: it ends up in logs, e-mails and error reports.
    """

    row: int
    field: str
    code: str
    message: str

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


class RosterFileError(Exception):
    """Raised by the readers when a file cannot be read at all; turned into a row-0
    :class:`RowError` by :func:`~plugins.channel_agency.roster.parse_roster`, never
    shown to a caller as an exception."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(slots=True)
class RosterParse:
    """The outcome of reading and checking a roster.

    ``visitors`` holds the normalized visitors of the rows that have no error (warnings
    allowed), in sheet order; ``rows[i]`` is the sheet row of ``visitors[i]``, so checks
    the hub makes later (per-ID limits across orders) can point at the same row. A roster
    with any error should be refused as a whole — a group half on the roster is worse
    than an agency fixing one row and uploading again.
    """

    visitors: list[Visitor] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    warnings: list[RowError] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the roster can be accepted as it is (warnings do not block)."""
        return not self.errors

"""The building blocks every channel-spec table shares: the table base and the typed strings.

`hub.channels.spec` (the partner's inbound protocol and `ChannelSpec` itself),
`hub.channels.spec_outbound` (our calls to the partner) and `hub.channels.spec_settlement`
(the partner's settlement file) all build on these, so they live apart from any one table:
a dotted path or a scheme name is checked the same way wherever a spec names one.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

_SEGMENT = r"[A-Za-z_][A-Za-z0-9_\-]*(?:\[\d+\])*"
_PATH_RE = re.compile(rf"^{_SEGMENT}(?:\.{_SEGMENT})*$")


def check_path(value: str) -> str:
    """A dotted path: ``a.b[0].c`` — names of letters, digits, ``_`` or ``-``."""
    if not _PATH_RE.match(value):
        raise ValueError(f"bad dotted path syntax {value!r} (expected like 'a.b[0].c')")
    return value


DottedPath = Annotated[str, AfterValidator(check_path)]
SchemeName = Annotated[
    str,
    Field(
        pattern=r"^[a-z][a-z0-9_\-]{0,63}$",
        description="a scheme registered by an installed plugin (`hub.channels.schemes`), "
        "or 'none'",
    ),
]
"""A codec or signature scheme by name. Which names exist depends on the installed
plugins, so the model checks the spelling only; `hub.channels.schemes.Protocols.problems`
checks the name (and what the scheme needs) when the spec is loaded with the registries."""
EncryptionScheme = SchemeName
SigningScheme = SchemeName
BodyEncoding = SchemeName


class SpecTable(BaseModel):
    """Base of every spec table: frozen, typo-proof, may be flagged unconfirmed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    unconfirmed: bool = False
    note: str = ""

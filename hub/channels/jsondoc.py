"""Partner JSON, parsed so that no document can crash the code that reads it.

The stdlib parser recurses once per ``[`` or ``{``: 100,000 of them (200 KB, well under
any body limit) raise `RecursionError`, which is not a `ValueError` and so escaped every
``except ValueError`` around a parse as an HTTP 500. A document that parses but nests a
few hundred levels is as bad one step later: whatever walks it next (a fingerprint's
``json.dumps``, validation, logging) recurses again on a stack that is already deep.
`loads` refuses both the same way as bad JSON — a `JsonDocError`, a `ValueError` — so a
channel answers with the partner's "malformed request" code. Partner documents are a
handful of levels deep; `MAX_DEPTH` leaves ample room.
"""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 32
"""Arrays and objects inside each other, the outermost counting 1."""


class JsonDocError(ValueError):
    """Not JSON, not UTF-8, or nested deeper than allowed."""


def depth_exceeds(doc: Any, limit: int) -> bool:
    """Whether arrays and objects nest more than ``limit`` deep (iterative: a document
    of any depth is measured without recursing)."""
    stack: list[tuple[Any, int]] = [(doc, 1)] if isinstance(doc, dict | list) else []
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        for child in node.values() if isinstance(node, dict) else node:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))
    return False


def loads(raw: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """The document in ``raw``; `JsonDocError` when it is not JSON (or not UTF-8) or
    when it nests deeper than ``max_depth``."""
    try:
        doc = json.loads(raw)
    except RecursionError:
        raise JsonDocError(f"nested deeper than {max_depth} levels") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise JsonDocError(f"not JSON: {exc}") from None
    if depth_exceeds(doc, max_depth):
        raise JsonDocError(f"nested deeper than {max_depth} levels")
    return doc

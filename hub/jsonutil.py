"""One JSON codec for the hub (orjson): request and response bodies and JSON columns.
At a thousand orders a second the stdlib encoder was a visible share of each order's
CPU. (Fingerprints stay in the pure domain, `hub.domain.order.fingerprint_json`.)"""

from __future__ import annotations

from typing import Any

import orjson


def dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def loads(raw: bytes | str) -> Any:
    return orjson.loads(raw)

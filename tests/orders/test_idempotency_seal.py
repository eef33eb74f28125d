"""The stored first answer of an order: every ID number sealed at any depth, everything
else copied as it was, and `open_ids` gives back the answer exactly (`seal_ids` copies
leaves inline on the writer's hot path; this pins what it must still do)."""

from __future__ import annotations

import json
import os
from typing import Any

from hub.orders.idempotency import SEALED, open_ids, seal_ids
from hub.storage.sealed import IdNumbers

IDS = IdNumbers(os.urandom(32), "seal-test-secret")
ID1, ID2, ID3 = "110101199003071234", "44030619851205777X", "E12345678"


def _answer() -> dict[str, Any]:
    return {
        "order": {
            "id": "O1",
            "amount": 12000,
            "rate": 1.5,
            "confirmed": True,
            "hold_expires_at": None,
            "visitors": [
                {"name": "A", "id_number": ID1, "phone": "13800000000"},
                {"name": "B", "id_number": None},
                {"name": "C", "id_number": ""},
            ],
            "tickets": [{"id": "T1", "holder_id_number": ID2, "parts": [], "units": 2}],
            "extra": {"nested": [[{"id_number": ID3}], "id_number"], "tags": ("x", "y")},
        },
        "id_number": {"not": "a string"},
    }


def test_every_id_number_is_sealed_and_nothing_else_changes() -> None:
    doc = _answer()
    sealed = seal_ids(doc, IDS, "k1")
    text = json.dumps(sealed, default=list)
    for number in (ID1, ID2, ID3):
        assert number not in text
    order = sealed["order"]
    assert set(order["visitors"][0]["id_number"]) == {SEALED}
    assert set(order["tickets"][0]["holder_id_number"]) == {SEALED}
    assert set(order["extra"]["nested"][0][0]["id_number"]) == {SEALED}
    # empty and missing numbers, other fields and non-string values: as they were
    assert order["visitors"][1]["id_number"] is None
    assert order["visitors"][2]["id_number"] == ""
    assert order["extra"]["nested"][1] == "id_number"
    assert order["extra"]["tags"] == ("x", "y")
    assert sealed["id_number"] == {"not": "a string"}
    assert {k: v for k, v in order.items() if k not in ("visitors", "tickets", "extra")} == {
        k: v for k, v in doc["order"].items() if k not in ("visitors", "tickets", "extra")
    }
    assert doc == _answer()  # a copy: the answer sent to the caller keeps its numbers


def test_open_ids_gives_the_answer_back() -> None:
    assert open_ids(seal_ids(_answer(), IDS, "k2"), IDS, "k2") == _answer()

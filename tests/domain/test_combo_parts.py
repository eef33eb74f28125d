"""The pure rules of combo parts (`hub.domain.combo`), shared by the hub and the bridge."""

from __future__ import annotations

import pytest

from hub.domain import Product
from hub.domain.combo import (
    TicketPart,
    all_used,
    check_part,
    dump_parts,
    load_parts,
    part_at_gate,
    parts_for,
)

COMBO = Product.model_validate(
    {
        "id": "combo",
        "venue_id": "v1",
        "name": "Gate + cable car + show",
        "kind": "combo",
        "components": [
            {"product_id": "adult", "attraction": "main"},
            {"product_id": "cable", "quantity": 2},
            {"product_id": "show"},
        ],
    }
)
PLAIN = Product(id="adult", venue_id="v1", name="Adult", pool="main")


def test_parts_per_attraction_times_the_people_a_ticket_admits() -> None:
    assert parts_for(PLAIN) is None
    parts = parts_for(COMBO, units=3)
    assert parts == {
        "main": TicketPart(allowed=3),
        "cable": TicketPart(allowed=6),
        "show": TicketPart(allowed=3),
    }
    assert load_parts(dump_parts(parts)) == parts
    assert load_parts('{"main": {"allowed": 1}}') == {"main": TicketPart(allowed=1)}
    assert load_parts("") is None and load_parts(None) is None


def test_a_gate_of_no_attraction_takes_the_first_part() -> None:
    assert part_at_gate(COMBO, None) == "main"
    assert part_at_gate(COMBO, "cable") == "cable"
    assert part_at_gate(COMBO, "zoo") is None


def test_each_part_admits_its_own_entries() -> None:
    parts = {"main": TicketPart(allowed=1, used=1), "cable": TicketPart(allowed=1)}
    assert check_part(parts, "cable", 0) is None
    assert str(check_part(parts, "cable", 1).code) == "ENTRIES_EXHAUSTED"  # type: ignore[union-attr]
    assert check_part(parts, "main", 1).reason == "main: already used"  # type: ignore[union-attr]
    assert str(check_part(parts, None, 0).code) == "NOT_AT_THIS_GATE"  # type: ignore[union-attr]
    refunded = {**parts, "cable": TicketPart(allowed=1, refunded=True)}
    assert str(check_part(refunded, "cable", 0).code) == "PART_REFUNDED"  # type: ignore[union-attr]
    assert all_used(refunded) and not all_used(parts)
    # refunded before anything was used: not "used" (that ticket is revoked instead)
    assert not all_used({"main": TicketPart(allowed=1, refunded=True)})


def test_a_combo_names_each_attraction_once() -> None:
    with pytest.raises(ValueError, match="each attraction once"):
        Product.model_validate(
            {
                "id": "c",
                "venue_id": "v1",
                "name": "C",
                "kind": "combo",
                "components": [
                    {"product_id": "a", "attraction": "x"},
                    {"product_id": "b", "attraction": "x"},
                ],
            }
        )

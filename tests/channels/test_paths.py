"""`get_path`: the one reader of the dotted paths specs use into partner messages."""

from __future__ import annotations

import pytest

from hub.channels import PathError, get_path
from hub.channels.loader import parse_path

DOC = {
    "header": {"serviceName": "CreatePreOrder"},
    "items": [{"PLU": "P1", "quantity": 2}, {"PLU": "P2"}],
    "grid": [[1, 2], [3, 4]],
    "weird-key": {"x_1": None},
}


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("header.serviceName", "CreatePreOrder"),
        ("items[0].PLU", "P1"),
        ("items[1].PLU", "P2"),
        ("items[0]", {"PLU": "P1", "quantity": 2}),
        ("grid[1][0]", 3),
        ("weird-key.x_1", None),
    ],
)
def test_get_path_reads_nested_dicts_and_lists(path: str, value: object) -> None:
    assert get_path(DOC, path) == value


@pytest.mark.parametrize(
    ("path", "where"),
    [
        ("header.missing", "no key 'missing' at header"),
        ("items[5].PLU", "no index [5] at items"),
        ("items[1].quantity", "no key 'quantity' at items[1]"),
        ("header[0]", "no index [0] at header"),
        ("nothing", "no key 'nothing' at <root>"),
        ("items.PLU", "no key 'PLU' at items"),
    ],
)
def test_missing_paths_say_where(path: str, where: str) -> None:
    with pytest.raises(PathError) as info:
        get_path(DOC, path)
    assert where in str(info.value)


@pytest.mark.parametrize("bad", ["", "a..b", ".a", "a.", "a[x]", "a[0", "1a", "a b"])
def test_bad_path_syntax_is_a_value_error(bad: str) -> None:
    with pytest.raises(ValueError, match="bad dotted path"):
        get_path(DOC, bad)


def test_parse_path() -> None:
    assert parse_path("a.b[0][2].c") == ["a", "b", 0, 2, "c"]

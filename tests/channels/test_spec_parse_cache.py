"""A spec file's TOML is parsed once per process, and specs still share nothing.

Every hub, bridge and channel rig loads the same spec files; the pure-Python TOML parser
was most of the cost. The parsed document is remembered by its text, and each load still
validates it into a spec of its own.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from hub.channels import loader

SPEC = Path(__file__).resolve().parents[2] / "plugins" / "channel_ctrip" / "ctrip.toml"


def test_the_same_text_is_parsed_once_into_separate_specs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    loader._parsed_toml.cache_clear()
    calls: list[str] = []
    real = tomllib.loads

    def counting(text: str) -> object:
        calls.append(text)
        return real(text)

    monkeypatch.setattr(loader.tomllib, "loads", counting)
    first = loader.load_spec(SPEC)
    second = loader.load_spec(SPEC)
    assert len(calls) == 1
    assert first == second
    assert first is not second
    # No mutable part is shared between the two specs.
    assert first.result_codes is not second.result_codes
    assert first.operations is not second.operations


def test_changed_text_is_parsed_again(tmp_path: Path) -> None:
    text = SPEC.read_text(encoding="utf-8")
    copy = tmp_path / "ctrip.toml"
    copy.write_text(text, encoding="utf-8")
    assert loader.load_spec(copy).channel.name == "ctrip"
    copy.write_text(text + "\n[nonsense]\n", encoding="utf-8")
    with pytest.raises(loader.SpecError, match="nonsense"):
        loader.load_spec(copy)

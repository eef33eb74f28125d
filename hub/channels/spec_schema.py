"""The channel spec language as a JSON Schema, generated from the pydantic models.

Editors complete and check TOML against a JSON Schema (Taplo / "Even Better TOML" reads a
``#:schema ./channel-spec.schema.json`` first line), so the committed
``channel_specs/channel-spec.schema.json`` lets an integrator write a spec with
completion and inline errors. It is generated, never edited: after changing
`hub.channels.spec*`, run ``python -m hub.channels.spec_schema`` (``--check`` only
compares, for CI); a test fails while the committed file differs from a fresh one.

Scheme names (``scheme = "..."``) are plain strings in the schema: which exist depends on
the installed plugins, so the hub checks them when it loads a spec.
"""

from __future__ import annotations

import argparse
import json
import sys
from importlib import resources
from pathlib import Path
from typing import Any

from hub.channels.spec import ChannelSpec

FILE_NAME = "channel-spec.schema.json"


def spec_json_schema() -> dict[str, Any]:
    """The schema of one spec file (draft 2020-12, as pydantic writes it)."""
    schema = ChannelSpec.model_json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "tickethub channel spec",
        **{k: v for k, v in schema.items() if k != "title"},
    }


def render() -> str:
    """The schema file's exact text (stable key order, one trailing newline)."""
    return json.dumps(spec_json_schema(), indent=2, ensure_ascii=False) + "\n"


def default_path() -> Path:
    """``channel_specs/channel-spec.schema.json`` beside the spec language's README."""
    return Path(str(resources.files("channel_specs"))) / FILE_NAME


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m hub.channels.spec_schema", description=__doc__.split("\n")[0]
    )
    parser.add_argument("path", nargs="?", type=Path, default=None, help="default: %(default)s")
    parser.add_argument("--check", action="store_true", help="exit 1 when the file is stale")
    args = parser.parse_args(argv)
    path: Path = args.path or default_path()
    text = render()
    if args.check:
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current != text:
            print(f"{path} is stale: run python -m hub.channels.spec_schema", file=sys.stderr)
            return 1
        return 0
    path.write_text(text, encoding="utf-8")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

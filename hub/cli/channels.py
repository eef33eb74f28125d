"""`tickethub channels check FILE…`: validate channel spec files before a hub loads them.

The check is the hub's own loading (`hub.channels.loader`: `read_toml`, `is_spec`,
`validate_spec`), so "OK" here means the file loads from a spec folder, and an error is
the one the hub would raise, naming the file and the field
(``tripnest.toml: signing.inbound.fields[2]: unknown field 'bodyy'``). Scheme names are
checked against the schemes the installed plugins register (`hub.channels.schemes`).

`tickethub channels schema` regenerates the spec language's JSON Schema
(``channel_specs/channel-spec.schema.json``, `hub.channels.spec_schema`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hub.channels import spec_schema
from hub.channels.loader import SpecError, is_spec, read_toml, validate_spec
from hub.channels.schemes import installed

app = typer.Typer(no_args_is_help=True, help="Channel specs (the spec language of OTAs).")


@app.callback()
def _group() -> None:
    """Channel specs (the spec language of OTAs)."""


def check_one(path: Path) -> str:
    """One line about ``path``: ``OK …`` or raises `SpecError` with the precise error."""
    if not path.is_file():
        raise SpecError(str(path), "", "no such file")
    if not path.name.endswith(".toml"):
        raise SpecError(path.name, "", "a channel spec is a .toml file (a spec folder skips it)")
    data = read_toml(path)
    if not is_spec(data):
        raise SpecError(
            path.name, "", "not a channel spec: no [channel] table (a spec folder skips it)"
        )
    spec = validate_spec(data, path.name, protocols=installed())
    return (
        f"OK {path}: channel {spec.channel.name!r}, {len(spec.operations)} operations, "
        f"{len(spec.callbacks)} callbacks"
    )


@app.command("check")
def check(
    files: Annotated[list[Path], typer.Argument(help="spec files (*.toml)", show_default=False)],
) -> None:
    """Validate channel spec files as the hub loads them: prints OK or the precise error
    (file, field, what is wrong) per file; exit code 1 if any file is not a valid spec."""
    failed = 0
    for path in files:
        try:
            typer.echo(check_one(path))
        except SpecError as exc:
            failed += 1
            typer.echo(f"ERROR {exc}", err=True)
    if failed:
        raise typer.Exit(1)


@app.command("schema")
def schema(
    path: Annotated[
        Path | None, typer.Argument(help="default: channel_specs/channel-spec.schema.json")
    ] = None,
    check_only: Annotated[
        bool, typer.Option("--check", help="exit 1 when the file is stale, write nothing")
    ] = False,
) -> None:
    """Write the spec language's JSON Schema, generated from the spec models (editors
    use it for completion: ``#:schema ./channel-spec.schema.json`` atop a spec)."""
    args = [str(path)] if path is not None else []
    code = spec_schema.main([*args, "--check"] if check_only else args)
    if code:
        raise typer.Exit(code)

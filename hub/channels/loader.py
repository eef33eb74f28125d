"""Load channel specs and report what is wrong with one in the words of its file.

A spec is read with stdlib `tomllib` and validated by `ChannelSpec`; every failure is a
`SpecError` naming the file and the field path (``ctrip.toml: signing.inbound.fields[2]:
unknown field 'bodyy'``), so an integrator fixing a spec never reads a pydantic traceback.
`get_path` is the one reader of dotted paths (``items[0].PLU``) so mappings, signing fields
and idempotency keys all resolve them the same way.

Scheme names (``scheme = "hmac_sha1_mws"``) depend on the installed plugins: given the
registries (``protocols=``), loading also checks each name and what its scheme needs
(`hub.channels.schemes.Protocols.problems`). Without them only the spelling is checked,
and the channel's adapter checks the rest when it starts (`check_schemes`).
"""

from __future__ import annotations

import functools
import logging
import re
import tomllib
from collections.abc import Iterable, Mapping
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from hub.channels.spec import ChannelSpec
from hub.channels.spec_base import check_path

if TYPE_CHECKING:
    from hub.channels.schemes import Protocols

log = logging.getLogger(__name__)
_PREFIXED = re.compile(r"^(?:Value error, )?([A-Za-z_][\w.\-\[\]]*): (.*)$", re.S)
_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


class SpecError(ValueError):
    """A spec that does not load: which file, which field, what is wrong."""

    def __init__(self, file: str, field_path: str, message: str) -> None:
        self.file = file
        self.field_path = field_path
        self.message = message
        where = f"{file}: {field_path}" if field_path else file
        super().__init__(f"{where}: {message}")


class PathError(LookupError):
    """A dotted path does not resolve in a partner message (missing key or index)."""


def _loc_to_path(loc: Iterable[int | str]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _join(base: str, extra: str) -> str:
    if not base:
        return extra
    return base + extra if extra.startswith("[") else f"{base}.{extra}"


def _spec_error(file: str, exc: ValidationError) -> SpecError:
    """The first error, rewritten: unknown keys name the key; prefixed messages from the
    cross-field checks carry their own (more precise) path."""
    errors = exc.errors(include_url=False)
    # a typo shows up as an unknown key AND a missing one: the unknown key is the news
    err = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    loc = list(err["loc"])
    if err["type"] == "extra_forbidden":
        return SpecError(file, _loc_to_path(loc[:-1]), f"unknown field {loc[-1]!r}")
    if err["type"] == "missing":
        return SpecError(file, _loc_to_path(loc), "required field is missing")
    path, msg = _loc_to_path(loc), str(err["msg"])
    m = _PREFIXED.match(msg)
    if m:
        return SpecError(file, _join(path, m.group(1)), m.group(2))
    return SpecError(file, path, msg.removeprefix("Value error, "))


def parse_spec(
    text: str, file: str = "<spec>", *, protocols: Protocols | None = None
) -> ChannelSpec:
    """Validate TOML text as a spec (tests and tools that build specs in memory)."""
    try:
        data = _parsed_toml(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(file, "", f"not valid TOML: {exc}") from None
    return validate_spec(data, file, protocols=protocols)


@functools.lru_cache(maxsize=128)
def _parsed_toml(text: str) -> dict[str, Any]:
    """``tomllib.loads``, remembered by text: every application (each hub, bridge and
    channel rig) loads the same dozen spec files, and the pure-Python TOML parser was
    ~90% of loading one (validation is the rest). The document is only ever read — by
    `ChannelSpec.model_validate`, which builds its own lists, dicts and models (no field
    is ``Any``) — so no two specs share a mutable part, and a changed file is new text."""
    return tomllib.loads(text)


def validate_spec(
    data: dict[str, Any], file: str = "<spec>", *, protocols: Protocols | None = None
) -> ChannelSpec:
    """Validate a parsed TOML document as the spec in ``file`` (its stem is the name);
    with ``protocols``, its scheme names too (`check_schemes`)."""
    try:
        spec = ChannelSpec.model_validate(data)
    except ValidationError as exc:
        raise _spec_error(file, exc) from None
    stem = file.rsplit("/", 1)[-1].removesuffix(".toml")
    if file.endswith(".toml") and spec.channel.name != stem:
        raise SpecError(file, "channel.name", f"{spec.channel.name!r} must equal {stem!r}")
    if protocols is not None:
        check_schemes(spec, protocols, file)
    return spec


def check_schemes(spec: ChannelSpec, protocols: Protocols, file: str | None = None) -> None:
    """The first scheme problem of ``spec`` as a `SpecError` (an unknown name lists the
    installed ones); nothing when every scheme it names is registered and satisfied."""
    for field_path, message in protocols.problems(spec):
        raise SpecError(file or f"{spec.channel.name}.toml", field_path, message)


def load_spec(path: str | Path | Traversable, *, protocols: Protocols | None = None) -> ChannelSpec:
    """Read and validate one spec file."""
    p = Path(path) if isinstance(path, str) else path
    return parse_spec(p.read_text(encoding="utf-8"), p.name, protocols=protocols)


def registered_specs(protocols: Protocols) -> dict[str, ChannelSpec]:
    """Every spec file the plugins registered (``register_channel_specs``), loaded and
    checked against the same plugins' schemes, keyed by channel name."""
    specs: dict[str, ChannelSpec] = {}
    for entry in protocols.specs:
        spec = load_spec(entry.obj, protocols=protocols)
        if spec.channel.name != entry.name:
            raise SpecError(
                entry.obj.name, "channel.name", f"registered as {entry.name!r} by {entry.source}"
            )
        specs[entry.name] = spec
    return specs


def is_spec(data: Mapping[str, Any]) -> bool:
    """The rule for what in a spec folder is a channel spec: a TOML document whose top
    level has a ``[channel]`` table. Everything else (a ``pyproject.toml``, a tool's
    config, notes) is not ours to read."""
    return isinstance(data.get("channel"), dict)


def read_toml(path: Path | Traversable) -> dict[str, Any]:
    """A TOML file's document; a file that does not parse is a `SpecError` naming it."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SpecError(path.name, "", f"not valid TOML: {exc}") from None


def load_all(
    folder: str | Path | Traversable | None = None, *, protocols: Protocols | None = None
) -> dict[str, ChannelSpec]:
    """Every channel spec in ``folder`` keyed by channel name, sorted by file name;
    without a folder, every spec the installed plugins register (`registered_specs` of
    `hub.channels.schemes.installed`, for tests and tools; an application asks its own
    plugins).

    Only ``*.toml`` files with a ``[channel]`` table are specs (`is_spec`); other files,
    hidden ones (``.#ctrip.toml`` editor locks) and TOML without that table are skipped
    with a debug line, so a ``pyproject.toml`` or a README beside the specs changes
    nothing. A ``*.toml`` that is not valid TOML still fails, naming the file: it may be
    a spec with a typo, and a partner that silently vanished would be worse."""
    if folder is None:
        from hub.channels.schemes import installed  # builds the plugin manager: lazily

        return registered_specs(installed() if protocols is None else protocols)
    base = Path(folder) if isinstance(folder, str) else folder
    files = sorted(
        (
            f
            for f in base.iterdir()
            if f.name.endswith(".toml") and not f.name.startswith(".") and f.is_file()
        ),
        key=lambda f: f.name,
    )
    specs: dict[str, ChannelSpec] = {}
    for f in files:
        data = read_toml(f)
        if not is_spec(data):
            log.debug("channel specs: %s skipped: no [channel] table, not a channel spec", f)
            continue
        spec = validate_spec(data, f.name, protocols=protocols)
        specs[spec.channel.name] = spec
    return specs


def parse_path(path: str) -> list[str | int]:
    """``"a.b[0].c"`` → ``["a", "b", 0, "c"]``; bad syntax raises ``ValueError``."""
    check_path(path)
    return [int(idx) if idx else name for name, idx in _TOKEN.findall(path)]


def get_path(obj: Any, path: str) -> Any:
    """The value at a dotted path in nested dicts and lists.

    Raises `PathError` naming the first segment that is missing, so an adapter can answer
    the partner's "missing info" code with the field it needed.
    """
    cur = obj
    done = ""
    for part in parse_path(path):
        if isinstance(part, int):
            if not isinstance(cur, list) or part >= len(cur):
                raise PathError(f"{path}: no index [{part}] at {done or '<root>'}")
            cur = cur[part]
            done += f"[{part}]"
        else:
            if not isinstance(cur, dict) or part not in cur:
                raise PathError(f"{path}: no key {part!r} at {done or '<root>'}")
            cur = cur[part]
            done = f"{done}.{part}" if done else part
    return cur

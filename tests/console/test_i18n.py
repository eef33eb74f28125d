"""The console speaks Chinese first: every string marked in its templates and code has a
Simplified Chinese translation, the catalogs hold no string the code no longer has, and
the catalogs compile from the .po files alone (no .mo to go stale)."""

from __future__ import annotations

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from hub.console import i18n
from hub.console.roles import LANGUAGES


def _marked() -> set[str]:
    found: set[str] = set()
    method_map = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
    options = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(i18n.HERE), method_map, options, keywords=keywords
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def _catalog(language: str) -> dict[str, str]:
    with i18n.po_path(language).open("rb") as f:
        catalog = read_po(f, locale=language)
    return {m.id: m.string for m in catalog if m.id and isinstance(m.id, str)}


def test_every_marked_string_has_a_chinese_translation() -> None:
    marked = _marked()
    assert "Sign in" in marked and "Audit log" in marked  # the walk found the strings
    zh = _catalog("zh_CN")
    missing = sorted(m for m in marked if not zh.get(m))
    assert not missing, "run `python -m hub.console.i18n update`, then translate: " + repr(missing)
    for language in LANGUAGES:
        stale = sorted(set(_catalog(language)) - marked)
        assert not stale, f"{language} has strings the code no longer uses: {stale}"


def test_catalogs_compile_in_memory_and_follow_the_request_language() -> None:
    assert i18n.translations("zh_CN").gettext("Sign in") == "登录"
    token = i18n.LANGUAGE.set("en")
    try:
        assert i18n.gettext("Sign in") == "Sign in"
    finally:
        i18n.LANGUAGE.reset(token)
    assert i18n.LANGUAGE.get() == "zh_CN"  # the default
    assert i18n.gettext("Audit log") == "审计日志"

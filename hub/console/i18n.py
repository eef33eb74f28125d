"""The console's languages: gettext catalogs, Simplified Chinese first, English second.

Source strings are English in the code and templates; ``locale/<lang>/LC_MESSAGES/
messages.po`` translates them. The ``.po`` files are the only artefact: they are compiled
in memory the first time a language is used (Babel's ``read_po`` → ``write_mo``), so a
fresh clone, an editable install and a wheel all work without a compile step and a
stale ``.mo`` can never be served.

The language of a request is set by the console middleware (the signed-in person's
choice, else the session's, else ``zh_CN``) in a context variable, which `gettext` and
the templates' ``_()`` / ``{% trans %}`` read.

Adding strings: write ``_("Text")`` in a template or `gettext` / `N_` in Python, then::

    .venv/bin/python -m hub.console.i18n update   # extract + merge into every .po

and fill in the new ``msgstr`` of ``locale/zh_CN/LC_MESSAGES/messages.po`` (English needs
none: an empty msgstr shows the source). ``tests/console/test_i18n.py`` fails while a
string has no Chinese translation.
"""

from __future__ import annotations

import sys
from contextvars import ContextVar
from functools import cache
from io import BytesIO
from pathlib import Path

from babel.messages.frontend import CommandLineInterface
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from jinja2 import Environment

from hub.console.roles import DEFAULT_LANGUAGE, LANGUAGES

HERE = Path(__file__).resolve().parent
LOCALE_DIR = HERE / "locale"
DOMAIN = "messages"
POT = LOCALE_DIR / f"{DOMAIN}.pot"
BABEL_CFG = HERE / "babel.cfg"

LANGUAGE: ContextVar[str] = ContextVar("console_language", default=DEFAULT_LANGUAGE)


def po_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(language: str) -> Translations:
    """The compiled catalog of ``language`` (one of `LANGUAGES`), built once."""
    if language not in LANGUAGES:
        raise ValueError(f"no console catalog for {language!r}")
    with po_path(language).open("rb") as f:
        catalog = read_po(f, locale=language, domain=DOMAIN)
    buf = BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)
    buf.seek(0)
    return Translations(buf, domain=DOMAIN)


def gettext(message: str) -> str:
    """``message`` in the current request's language."""
    return translations(LANGUAGE.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(LANGUAGE.get()).ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Mark a string for extraction, translated later where it is shown (nav labels)."""
    return message


# Role names, shown in the layout as ``_(staff.role.value)``.
ROLE_NAMES = (N_("viewer"), N_("operator"), N_("supervisor"), N_("admin"))


def install(env: Environment) -> None:
    """``_``, ``gettext``, ``ngettext`` and ``{% trans %}`` in templates, in the current
    request's language (newstyle: the result is autoescaped like any other value)."""
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(gettext, ngettext, newstyle=True)  # type: ignore[attr-defined]


def update() -> None:
    """Extract every marked string into ``messages.pot`` and merge it into each .po."""
    cli = CommandLineInterface()
    cli.run(
        [
            "pybabel",
            "extract",
            "-F",
            str(BABEL_CFG),
            "-k",
            "N_",
            "--no-location",
            "--sort-output",
            "-o",
            str(POT),
            str(HERE),
        ]
    )
    for language in LANGUAGES:
        cli.run(
            [
                "pybabel",
                "update",
                "-i",
                str(POT),
                "-d",
                str(LOCALE_DIR),
                "-D",
                DOMAIN,
                "-l",
                language,
                "--no-fuzzy-matching",
                "--ignore-obsolete",
            ]
        )


if __name__ == "__main__":
    if sys.argv[1:] != ["update"]:
        raise SystemExit("usage: python -m hub.console.i18n update")
    update()

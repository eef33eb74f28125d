"""Entries of the layout's navigation: a page lists its own in its module's ``NAV``."""

from __future__ import annotations

from dataclasses import dataclass

from hub.console.roles import Role


@dataclass(frozen=True, slots=True)
class NavItem:
    """``route``: the route's name (``url_for``); ``label``: an English msgid marked with
    `hub.console.i18n.N_` (translated when the layout is drawn); ``needs``: the least
    role that sees the entry (the handler checks it again with `require_role`)."""

    route: str
    label: str
    needs: Role = Role.viewer

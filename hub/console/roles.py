"""Staff roles, ordered: each role may do everything the ones below it may.

- ``viewer``: the wall and read-only pages;
- ``operator``: the day's operations (refunds, box office) on top;
- ``supervisor``: also reads the audit log and manages alert rules;
- ``admin``: everything, including staff accounts.

A page states the least role it needs (`hub.console.auth.require_role`).
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    viewer = "viewer"
    operator = "operator"
    supervisor = "supervisor"
    admin = "admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def allows(self, needed: Role) -> bool:
        """True when this role may do what ``needed`` may."""
        return self.rank >= needed.rank


#: Languages the console speaks (gettext catalogs under hub/console/locale); the first is
#: the default of new accounts and of the login page.
LANGUAGES = ("zh_CN", "en")
DEFAULT_LANGUAGE = LANGUAGES[0]

"""Staff accounts: people who sign in to the console, with a role and a language.

Passwords are kept only as argon2id hashes (argon2-cffi's defaults, RFC 9106's
low-memory profile); hashing runs on a worker thread because it is deliberately slow.
Every change is audited (`hub.console.audit`) in the same transaction, by whoever made it:
a console user, or ``cli`` for the ``tickethub staff`` command.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hub.clock import Clock
from hub.console.audit import record
from hub.console.roles import DEFAULT_LANGUAGE, LANGUAGES, Role
from hub.storage.staff_tables import StaffRow

STAFF = StaffRow.__table__
USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
MIN_PASSWORD = 8
MAX_PASSWORD = 1024


class StaffError(ValueError):
    """A staff change that cannot be made; ``str()`` says why, for a person."""


@dataclass(frozen=True, slots=True)
class Staff:
    id: int
    username: str
    display_name: str
    role: Role
    language: str
    disabled: bool
    session_epoch: int
    created_at: datetime
    last_login_at: datetime | None

    @property
    def name(self) -> str:
        return self.display_name or self.username

    def public(self) -> dict[str, Any]:
        """What the audit log keeps of an account (never the hash)."""
        return {
            "username": self.username,
            "display_name": self.display_name,
            "role": str(self.role),
            "language": self.language,
            "disabled": self.disabled,
        }


def _staff(r: RowMapping) -> Staff:
    return Staff(
        r["id"],
        r["username"],
        r["display_name"],
        Role(r["role"]),
        r["language"],
        r["disabled"],
        r["session_epoch"],
        r["created_at"],
        r["last_login_at"],
    )


def check_username(username: str) -> str:
    if not USERNAME.match(username):
        raise StaffError(
            "a username is 1-64 letters, digits or . _ @ - (starting with a letter or digit)"
        )
    return username


def check_password(password: str) -> str:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise StaffError(f"a password has {MIN_PASSWORD} to {MAX_PASSWORD} characters")
    return password


def check_language(language: str) -> str:
    if language not in LANGUAGES:
        raise StaffError(f"language must be one of {', '.join(LANGUAGES)}")
    return language


def check_role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise StaffError(f"role must be one of {', '.join(r.value for r in Role)}") from None


def default_hasher() -> PasswordHasher:
    """argon2id with argon2-cffi's defaults (RFC 9106 low-memory: 64 MiB, 3 passes).
    The console's tests swap in cheap parameters here; a stored hash keeps its own."""
    return PasswordHasher()


class StaffService:
    def __init__(
        self, engine: AsyncEngine, clock: Clock, hasher: PasswordHasher | None = None
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.hasher = hasher or default_hasher()
        # verified when the username is unknown, so an unknown name costs the same time
        self._dummy_hash: str | None = None

    async def _hash(self, password: str) -> str:
        return await asyncio.to_thread(self.hasher.hash, password)

    async def add(
        self,
        username: str,
        password: str,
        role: str,
        *,
        display_name: str = "",
        language: str = DEFAULT_LANGUAGE,
        actor: str,
        remote: str = "",
    ) -> Staff:
        check_username(username)
        check_password(password)
        checked_role = check_role(role)
        check_language(language)
        if len(display_name) > 100:
            raise StaffError("a display name has at most 100 characters")
        hashed = await self._hash(password)
        now = self.clock.now()
        try:
            async with self.engine.begin() as conn:
                new_id = (
                    await conn.execute(
                        STAFF.insert()
                        .values(
                            username=username,
                            display_name=display_name,
                            role=checked_role.value,
                            language=language,
                            password_hash=hashed,
                            disabled=False,
                            session_epoch=0,
                            created_at=now,
                            updated_at=now,
                        )
                        .returning(STAFF.c.id)
                    )
                ).scalar_one()
                staff = await self._get(conn, STAFF.c.id == new_id)
                assert staff is not None
                await record(
                    conn,
                    now,
                    actor=actor,
                    action="staff.add",
                    target=f"staff:{username}",
                    after=staff.public(),
                    remote=remote,
                )
        except IntegrityError:
            raise StaffError(f"a staff account {username!r} exists already") from None
        return staff

    async def _get(self, conn: AsyncConnection, where: Any) -> Staff | None:
        row = (await conn.execute(select(STAFF).where(where))).mappings().first()
        return _staff(row) if row else None

    async def get(self, staff_id: int) -> Staff | None:
        async with self.engine.connect() as conn:
            return await self._get(conn, STAFF.c.id == staff_id)

    async def by_username(self, username: str) -> Staff | None:
        async with self.engine.connect() as conn:
            return await self._get(conn, STAFF.c.username == username)

    async def list(self) -> list[Staff]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(STAFF).order_by(STAFF.c.username))).mappings()
            return [_staff(r) for r in rows]

    async def _change(
        self, username: str, values: dict[str, Any], action: str, *, actor: str, remote: str
    ) -> Staff:
        now = self.clock.now()
        async with self.engine.begin() as conn:
            before = await self._get(conn, STAFF.c.username == username)
            if before is None:
                raise StaffError(f"no staff account {username!r}")
            if "session_epoch" in values:
                values = {**values, "session_epoch": before.session_epoch + 1}
            await conn.execute(
                STAFF.update().where(STAFF.c.id == before.id).values(**values, updated_at=now)
            )
            after = await self._get(conn, STAFF.c.id == before.id)
            assert after is not None
            await record(
                conn,
                now,
                actor=actor,
                action=action,
                target=f"staff:{username}",
                before=before.public(),
                after=after.public(),
                remote=remote,
            )
        return after

    async def disable(self, username: str, *, actor: str, remote: str = "") -> Staff:
        """Disable an account; its open sessions end at their next request."""
        return await self._change(
            username,
            {"disabled": True, "session_epoch": None},
            "staff.disable",
            actor=actor,
            remote=remote,
        )

    async def enable(self, username: str, *, actor: str, remote: str = "") -> Staff:
        return await self._change(
            username, {"disabled": False}, "staff.enable", actor=actor, remote=remote
        )

    async def set_password(
        self, username: str, password: str, *, actor: str, remote: str = ""
    ) -> Staff:
        """A new password; every session opened with the old one ends."""
        check_password(password)
        hashed = await self._hash(password)
        return await self._change(
            username,
            {"password_hash": hashed, "session_epoch": None},
            "staff.passwd",
            actor=actor,
            remote=remote,
        )

    async def set_language(
        self, username: str, language: str, *, actor: str, remote: str = ""
    ) -> Staff:
        check_language(language)
        return await self._change(
            username, {"language": language}, "staff.language", actor=actor, remote=remote
        )

    async def authenticate(self, username: str, password: str) -> Staff | None:
        """The enabled account whose password this is, else None. An unknown username
        costs one hash verification too (no timing hint of which names exist)."""
        async with self.engine.connect() as conn:
            row = (
                (await conn.execute(select(STAFF).where(STAFF.c.username == username)))
                .mappings()
                .first()
            )
        if row is None:
            if self._dummy_hash is None:
                self._dummy_hash = await self._hash("not a password of anyone")
            await self._verify(self._dummy_hash, password)
            return None
        if not await self._verify(row["password_hash"], password) or row["disabled"]:
            return None
        now = self.clock.now()
        values: dict[str, Any] = {"last_login_at": now}
        if self.hasher.check_needs_rehash(row["password_hash"]):
            values["password_hash"] = await self._hash(password)
        async with self.engine.begin() as conn:
            await conn.execute(STAFF.update().where(STAFF.c.id == row["id"]).values(**values))
        return _staff({**row, "last_login_at": now})

    async def _verify(self, hashed: str, password: str) -> bool:
        try:
            return await asyncio.to_thread(self.hasher.verify, hashed, password)
        except (VerificationError, InvalidHashError):
            return False

"""Users, API keys and memberships, in ``access.sqlite3`` of the data directory.

API keys have rokka's format: 64 characters, a 32-character lowercase id followed by a
32-character mixed-case secret. Only a salted sha256 of each key is stored; lookups go by the
id and the digest is compared in constant time (a digest is computed for unknown ids too).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import string
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rokkafs.access.roles import permissions_for, validate_roles
from rokkafs.db.retry import retried_on_conflict
from rokkafs.db.sqlite import Database
from rokkafs.errors import AlreadyExists, InvalidInput, NotFound

__all__ = [
    "AccessRegistry",
    "ApiKeyInfo",
    "Membership",
    "Principal",
    "User",
    "administrator",
    "principal_for",
]

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY, email TEXT NOT NULL, created REAL NOT NULL, superuser INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY, user_id TEXT NOT NULL REFERENCES users(id), salt TEXT NOT NULL,
    digest TEXT NOT NULL, created REAL NOT NULL, accessed REAL, comment TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS memberships (
    org TEXT NOT NULL, user_id TEXT NOT NULL REFERENCES users(id), roles TEXT NOT NULL,
    comment TEXT NOT NULL, created REAL NOT NULL, PRIMARY KEY (org, user_id)
);
"""
MAX_KEYS_PER_USER = 5
_ID_CHARS = string.ascii_lowercase + string.digits
_SECRET_CHARS = string.ascii_letters + string.digits
_DUMMY_SALT = "0" * 32


@dataclass(frozen=True, slots=True)
class User:
    id: str
    email: str
    created: datetime
    superuser: bool = False


@dataclass(frozen=True, slots=True)
class ApiKeyInfo:
    id: str
    user_id: str
    created: datetime
    accessed: datetime | None
    comment: str


@dataclass(frozen=True, slots=True)
class Membership:
    organization: str
    user_id: str
    email: str
    roles: tuple[str, ...]
    comment: str
    created: datetime


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a user, the key used, and what each organization grants."""

    user: User
    key_id: str
    grants: dict[str, frozenset[str]]

    def may(self, org: str, permission: str) -> bool:
        return self.user.superuser or permission in self.grants.get(org, frozenset())

    def is_member(self, org: str) -> bool:
        return self.user.superuser or org in self.grants


def administrator() -> Principal:
    """The principal of an administrator key given on the command line or in tests."""
    user = User("administrator", "administrator", datetime.now(UTC).replace(microsecond=0), True)
    return Principal(user, "administrator", {})


def principal_for(
    key: str, api_keys: Iterable[str], registry: AccessRegistry | None
) -> Principal | None:
    """Who an API key belongs to: a registry user, or the administrator for one of the
    ``api_keys`` given on the command line (compared in constant time); None if nobody.
    The one place every face (REST, WebDAV, the server root) authenticates a key."""
    if not key:
        return None
    if registry is not None:
        principal = registry.authenticate(key)
        if principal is not None:
            return principal
    given = key.encode("utf-8", "replace")
    if any(hmac.compare_digest(given, static.encode()) for static in api_keys):
        return administrator()
    return None


def _when(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(int(value), tz=UTC)


def _digest(salt: str, key: str) -> str:
    return hashlib.sha256(f"{salt}:{key}".encode()).hexdigest()


# the same tables in PostgreSQL, for nodes sharing one database (rokkafs.db.postgres)
PG_MIGRATIONS = {
    1: [
        "CREATE TABLE users (id TEXT PRIMARY KEY, email TEXT NOT NULL, "
        "created DOUBLE PRECISION NOT NULL, superuser INTEGER NOT NULL)",
        "CREATE TABLE api_keys (id TEXT PRIMARY KEY, user_id TEXT NOT NULL REFERENCES users(id), "
        "salt TEXT NOT NULL, digest TEXT NOT NULL, created DOUBLE PRECISION NOT NULL, "
        "accessed DOUBLE PRECISION, comment TEXT NOT NULL)",
        "CREATE TABLE memberships (org TEXT NOT NULL, user_id TEXT NOT NULL REFERENCES users(id), "
        "roles TEXT NOT NULL, comment TEXT NOT NULL, created DOUBLE PRECISION NOT NULL, "
        "PRIMARY KEY (org, user_id))",
    ]
}
PG_WRITE_LOCK = 7_531_002


class AccessRegistry:
    """The users, keys and memberships of one data directory (``access.sqlite3``) or, for
    several nodes, of one PostgreSQL database (``database_url``)."""

    def __init__(self, data_dir: Path, *, database_url: str | None = None) -> None:
        self._db: Any
        if database_url is not None:
            from rokkafs.db.postgres import PgDatabase

            self._db = PgDatabase(
                database_url, "registry", PG_MIGRATIONS, write_lock=PG_WRITE_LOCK, max_connections=8
            )
            return
        data_dir.mkdir(parents=True, exist_ok=True)
        self._db = Database(data_dir / "access.sqlite3", SCHEMA)
        with self._db.transaction():
            pass

    def _rows(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        # (one statement reads one consistent state by itself: no BEGIN/COMMIT round trips)
        return list(self._db.query(sql, params))

    # ----------------------------------------------------------------- users and keys

    @retried_on_conflict
    def create_user(
        self, email: str, *, superuser: bool = False, key: str | None = None
    ) -> tuple[User, str]:
        """Create a user with a first API key; returns the user and the key (shown once)."""
        if not isinstance(email, str) or len(email) > 254:
            raise InvalidInput("the email must be a string of at most 254 characters")
        user = User(str(uuid.uuid4()), email, datetime.now(UTC).replace(microsecond=0), superuser)
        with self._db.transaction() as db:
            db.execute(
                "INSERT INTO users VALUES (?, ?, ?, ?)",
                (user.id, email, time.time(), int(superuser)),
            )
            _, secret = self._add_key(db, user.id, "", key)
        return user, secret

    @retried_on_conflict
    def create_first_admin(self, key: str) -> User | None:
        """Create the administrator with ``key`` if the registry has no user yet (one decision,
        so of several nodes starting together on one database exactly one makes it)."""
        user = User(str(uuid.uuid4()), "admin", datetime.now(UTC).replace(microsecond=0), True)
        with self._db.transaction() as db:
            if db.execute("SELECT 1 FROM users LIMIT 1").fetchone() is not None:
                return None
            db.execute(
                "INSERT INTO users VALUES (?, ?, ?, ?)",
                (user.id, user.email, time.time(), 1),
            )
            self._add_key(db, user.id, "", key)
        return user

    def _add_key(
        self, db: Any, user_id: str, comment: str, key: str | None
    ) -> tuple[ApiKeyInfo, str]:
        count = db.execute("SELECT COUNT(*) FROM api_keys WHERE user_id = ?", (user_id,))
        if count.fetchone()[0] >= MAX_KEYS_PER_USER:
            raise AlreadyExists(f"a user has at most {MAX_KEYS_PER_USER} API keys")
        if key is None:
            key_id = "".join(secrets.choice(_ID_CHARS) for _ in range(32))
            key = key_id + "".join(secrets.choice(_SECRET_CHARS) for _ in range(32))
        salt = secrets.token_hex(16)
        now = time.time()
        db.execute(
            "INSERT INTO api_keys VALUES (?, ?, ?, ?, ?, NULL, ?)",
            (key[:32], user_id, salt, _digest(salt, key), now, comment),
        )
        return ApiKeyInfo(key[:32], user_id, _when(now) or datetime.now(UTC), None, comment), key

    @retried_on_conflict
    def create_key(self, user_id: str, comment: str = "") -> tuple[ApiKeyInfo, str]:
        """Add an API key to a user (at most 5)."""
        with self._db.transaction() as db:
            self._require_user(db, user_id)
            return self._add_key(db, user_id, comment, None)

    def list_keys(self, user_id: str) -> list[ApiKeyInfo]:
        rows = self._rows(
            "SELECT id, user_id, created, accessed, comment FROM api_keys WHERE user_id = ? "
            "ORDER BY created",
            (user_id,),
        )
        return [
            ApiKeyInfo(r[0], r[1], _when(r[2]) or datetime.now(UTC), _when(r[3]), r[4])
            for r in rows
        ]

    @retried_on_conflict
    def revoke_key(self, user_id: str, key_id: str) -> None:
        """Delete one of the user's keys.

        Raises:
            NotFound: the user has no such key.
        """
        with self._db.transaction() as db:
            gone = db.execute(
                "DELETE FROM api_keys WHERE id = ? AND user_id = ?", (key_id, user_id)
            )
            if gone.rowcount == 0:
                raise NotFound(f"no API key {key_id}")

    @retried_on_conflict
    def authenticate(self, key: str) -> Principal | None:
        """The principal of a valid key, None otherwise (same work either way)."""
        key_id = key[:32] if isinstance(key, str) else ""
        found = self._rows(  # (the key, its user and the user's memberships: one statement)
            "SELECT k.salt, k.digest, k.accessed, u.id, u.email, u.created, u.superuser, "
            "m.org, m.roles FROM api_keys k JOIN users u ON u.id = k.user_id "
            "LEFT JOIN memberships m ON m.user_id = u.id WHERE k.id = ?",
            (key_id,),
        )
        row = found[0] if found else None
        salt, digest = (row[0], row[1]) if row else (_DUMMY_SALT, "")
        valid = hmac.compare_digest(_digest(salt, key if isinstance(key, str) else ""), digest)
        if row is None or not valid:
            return None
        now = time.time()
        if row[2] is None or now - row[2] > 60:
            with self._db.transaction() as write:
                write.execute("UPDATE api_keys SET accessed = ? WHERE id = ?", (now, key_id))
        user = User(row[3], row[4], _when(row[5]) or datetime.now(UTC), bool(row[6]))
        grants = {r[7]: permissions_for(json.loads(r[8])) for r in found if r[7] is not None}
        return Principal(user, key_id, grants)

    def principal_for_key(self, key_id: str) -> Principal | None:
        """The principal of a key id that still exists (for tokens minted from a key)."""
        found = self._rows(
            "SELECT u.id, u.email, u.created, u.superuser FROM api_keys k "
            "JOIN users u ON u.id = k.user_id WHERE k.id = ?",
            (key_id,),
        )
        if not found:
            return None
        row = found[0]
        user = User(row[0], row[1], _when(row[2]) or datetime.now(UTC), bool(row[3]))
        return Principal(user, key_id, self._grants(user.id))

    def _grants(self, user_id: str) -> dict[str, frozenset[str]]:
        rows = self._rows("SELECT org, roles FROM memberships WHERE user_id = ?", (user_id,))
        return {r[0]: permissions_for(json.loads(r[1])) for r in rows}

    def _require_user(self, db: Any, user_id: str) -> User:
        row = db.execute(
            "SELECT id, email, created, superuser FROM users WHERE id = ?", (user_id,)
        ).fetchone()
        if row is None:
            raise NotFound(f"no user {user_id}")
        return User(row[0], row[1], _when(row[2]) or datetime.now(UTC), bool(row[3]))

    def user(self, user_id: str) -> User:
        with self._db.reading() as db:
            return self._require_user(db, user_id)

    def users(self) -> list[User]:
        """Every user, oldest first (stored to the microsecond: users made within one second
        keep their order)."""
        rows = self._rows("SELECT id, email, created, superuser FROM users ORDER BY created, id")
        return [User(r[0], r[1], _when(r[2]) or datetime.now(UTC), bool(r[3])) for r in rows]

    def has_users(self) -> bool:
        return bool(self._rows("SELECT 1 FROM users LIMIT 1"))

    # ----------------------------------------------------------------- memberships

    def memberships(self, org: str) -> list[Membership]:
        rows = self._rows(
            "SELECT m.org, m.user_id, u.email, m.roles, m.comment, m.created FROM memberships m "
            "JOIN users u ON u.id = m.user_id WHERE m.org = ? ORDER BY m.created",
            (org,),
        )
        return [
            Membership(
                r[0], r[1], r[2], tuple(json.loads(r[3])), r[4], _when(r[5]) or datetime.now(UTC)
            )
            for r in rows
        ]

    def membership(self, org: str, user_id: str) -> Membership:
        for found in self.memberships(org):
            if found.user_id == user_id:
                return found
        raise NotFound(f"user {user_id} is no member of {org!r}")

    @retried_on_conflict
    def set_membership(
        self, org: str, user_id: str, roles: list[object], comment: str = ""
    ) -> tuple[Membership, bool]:
        """Create or change a membership; returns it and whether it is new.

        Raises:
            InvalidInput: unknown roles.
            NotFound: no such user.
            AlreadyExists: it would leave the organization without an admin (409).
        """
        valid = validate_roles(roles)
        with self._db.transaction() as db:
            self._require_user(db, user_id)
            old = db.execute(
                "SELECT roles FROM memberships WHERE org = ? AND user_id = ?", (org, user_id)
            ).fetchone()
            if old is not None and "admin" in json.loads(old[0]) and "admin" not in valid:
                self._keep_an_admin(db, org, user_id)
            db.execute(
                "INSERT INTO memberships VALUES (?, ?, ?, ?, ?) ON CONFLICT (org, user_id) "
                "DO UPDATE SET roles = excluded.roles, comment = excluded.comment",
                (org, user_id, json.dumps(list(valid)), comment, time.time()),
            )
        return self.membership(org, user_id), old is None

    @retried_on_conflict
    def remove_membership(self, org: str, user_id: str) -> None:
        """Raises NotFound (no member) or AlreadyExists (the last admin, 409)."""
        with self._db.transaction() as db:
            row = db.execute(
                "SELECT roles FROM memberships WHERE org = ? AND user_id = ?", (org, user_id)
            ).fetchone()
            if row is None:
                raise NotFound(f"user {user_id} is no member of {org!r}")
            if "admin" in json.loads(row[0]):
                self._keep_an_admin(db, org, user_id)
            db.execute("DELETE FROM memberships WHERE org = ? AND user_id = ?", (org, user_id))

    @staticmethod
    def _keep_an_admin(db: Any, org: str, leaving: str) -> None:
        rows = db.execute(
            "SELECT roles FROM memberships WHERE org = ? AND user_id != ?", (org, leaving)
        )
        if not any("admin" in json.loads(r[0]) for r in rows):
            raise AlreadyExists(f"{org!r} would have no admin left")

    def close(self) -> None:
        self._db.close()

"""Users, roles, API tokens and the audit log.

Passwords are hashed with scrypt (standard library); API tokens are random and only their
SHA-256 is stored. Roles are ordered: ``viewer < engineer < admin``. Engineers act only in
their areas (``areas='*'`` means every area).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Engine, delete, insert, select, update

from fabmind.api.tables import api_tokens, audit_log, users

ROLES = ("viewer", "engineer", "admin")
TOKEN_ID_LEN = 12  # a token is named by this many hex digits of its SHA-256 (48 bits: unique in any directory)


class AuthError(PermissionError):
    pass


@dataclass(frozen=True)
class User:
    username: str
    role: str
    areas: tuple[str, ...] = ("*",)

    def has_role(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)

    def in_area(self, area_id: str | None) -> bool:
        return self.role == "admin" or "*" in self.areas or (area_id is not None and area_id in self.areas)


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    return f"scrypt${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        _, salt_hex, digest_hex = stored.split("$")
    except ValueError:
        return False
    digest = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt_hex), n=2**14, r=8, p=1, dklen=32)
    return hmac.compare_digest(digest.hex(), digest_hex)


def token_hash(token: str) -> str:
    """SHA-256 (hex) of an API token: what is stored, and what token lookups are keyed by."""
    return hashlib.sha256(token.encode()).hexdigest()


class UserDirectory:
    """Users, tokens and audit on the store's engine."""

    def __init__(self, engine: Engine):
        self.engine = engine  # tables come from store revision 0004

    def add_user(self, username: str, password: str, role: str, areas: str = "*") -> User:
        if role not in ROLES:
            raise ValueError(f"role {role!r} is not one of {ROLES}")
        if len(password) < 8:
            raise ValueError("passwords have at least 8 characters")
        with self.engine.begin() as con:
            if con.execute(select(users.c.username).where(users.c.username == username)).first():
                con.execute(update(users).where(users.c.username == username).values(
                    password_hash=hash_password(password), role=role, areas=areas))
            else:
                con.execute(insert(users).values(username=username, password_hash=hash_password(password),
                                                 role=role, areas=areas, created=datetime.now(timezone.utc)))
        return User(username, role, tuple(areas.split(",")))

    def get(self, username: str) -> User | None:
        with self.engine.connect() as con:
            row = con.execute(select(users).where(users.c.username == username)).first()
        return None if row is None else User(row.username, row.role, tuple(row.areas.split(",")))

    def list_users(self) -> list[User]:
        with self.engine.connect() as con:
            rows = con.execute(select(users).order_by(users.c.username)).all()
        return [User(r.username, r.role, tuple(r.areas.split(","))) for r in rows]

    def authenticate(self, username: str, password: str) -> User:
        with self.engine.connect() as con:
            row = con.execute(select(users).where(users.c.username == username)).first()
        if row is None or not verify_password(password, row.password_hash):
            raise AuthError("unknown user or wrong password")
        return User(row.username, row.role, tuple(row.areas.split(",")))

    def issue_token(self, username: str, name: str = "") -> str:
        """Create an API token for a user; the clear token is returned once and never stored."""
        if self.get(username) is None:
            raise ValueError(f"no user {username!r}")
        token = "fm_" + secrets.token_urlsafe(32)
        with self.engine.begin() as con:
            con.execute(insert(api_tokens).values(token_hash=token_hash(token), username=username, name=name,
                                                  created=datetime.now(timezone.utc)))
        return token

    def user_for_token(self, token: str) -> User | None:
        return self.user_for_token_hash(token_hash(token))

    def user_for_token_hash(self, digest: str) -> User | None:
        """The user an API token (given by its SHA-256) belongs to; one query."""
        q = (select(users.c.username, users.c.role, users.c.areas)
             .join(api_tokens, api_tokens.c.username == users.c.username)
             .where(api_tokens.c.token_hash == digest))
        with self.engine.connect() as con:
            row = con.execute(q).first()
        return None if row is None else User(row.username, row.role, tuple(row.areas.split(",")))

    def revoke_token(self, token: str) -> bool:
        """Delete an API token; False if it was not known. It stops working on the next request."""
        with self.engine.begin() as con:
            return con.execute(delete(api_tokens).where(api_tokens.c.token_hash == token_hash(token))).rowcount > 0

    def list_tokens(self, username: str | None = None) -> list[dict[str, Any]]:
        """API tokens (all users', or one user's): id (first 12 hex digits of the stored hash), owner, name,
        created. The token itself cannot be shown: only its hash is stored."""
        q = select(api_tokens).order_by(api_tokens.c.created)
        if username is not None:
            q = q.where(api_tokens.c.username == username)
        with self.engine.connect() as con:
            rows = con.execute(q).all()
        return [{"id": r.token_hash[:TOKEN_ID_LEN], "username": r.username, "name": r.name, "created": r.created}
                for r in rows]

    def revoke_token_id(self, token_id: str, username: str | None = None) -> bool:
        """Delete the token whose id (hash prefix from :meth:`list_tokens`) is ``token_id``; with ``username``,
        only if that user owns it. False if there is no such token."""
        if len(token_id) != TOKEN_ID_LEN or any(ch not in "0123456789abcdef" for ch in token_id):
            return False
        q = delete(api_tokens).where(api_tokens.c.token_hash.startswith(token_id))
        if username is not None:
            q = q.where(api_tokens.c.username == username)
        with self.engine.begin() as con:
            return con.execute(q).rowcount > 0

    def audit(self, user: User | str, action: str, target: str = "", proposal_id: str | None = None,
              detail: dict[str, Any] | None = None, remote: str | None = None) -> None:
        name = user.username if isinstance(user, User) else user
        with self.engine.begin() as con:
            con.execute(insert(audit_log).values(ts=datetime.now(timezone.utc), username=name, action=action,
                                                 target=target, proposal_id=proposal_id, detail=detail, remote=remote))

    def audit_entries(self, limit: int = 100) -> list[dict]:
        with self.engine.connect() as con:
            rows = con.execute(select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)).mappings().all()
        return [dict(r) for r in rows]

"""Counsellor accounts and sign-in sessions.

Passwords are hashed with argon2id. A session is a random token in an HttpOnly cookie; the store keeps
only its SHA-256, with the session's CSRF token and expiry. Signing in by password is one way to get a
:class:`User`; the service's single sign-on would be another (``users.auth_provider`` and
``external_id``), and everything after sign-in is the same.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from connectors.opstore import OpStore
from connectors.optables import COUNSELLOR, SUPERVISOR, agencies, users, web_sessions
from tremplin.errors import TremplinError

ROLES = (COUNSELLOR, SUPERVISOR)
SESSION_LIFETIME = timedelta(hours=10)  # one working day; signing in again the next day
MIN_PASSWORD = 12
_hasher = PasswordHasher()
# verified when the username is unknown, so that a wrong name takes as long as a wrong password
_DUMMY_HASH = _hasher.hash("not a password of anyone's")


class AccountError(TremplinError):
    """An account cannot be created or changed as asked."""


@dataclass(frozen=True)
class User:
    user_id: int
    username: str
    display_name: str
    agency_id: str
    role: str

    @property
    def is_supervisor(self) -> bool:
        return self.role == SUPERVISOR


@dataclass(frozen=True)
class Session:
    user: User
    csrf_token: str


def _user(row: sa.Row) -> User:
    m = row._mapping
    return User(m["user_id"], m["username"], m["display_name"], m["agency_id"], m["role"])


def create_user(
    store: OpStore,
    *,
    username: str,
    password: str,
    agency_id: str,
    role: str = COUNSELLOR,
    display_name: str | None = None,
    now: datetime,
) -> User:
    """Add a counsellor or supervisor of one agency (the agency is created if the store has not seen it)."""
    username = username.strip().lower()
    if not username or any(ch.isspace() for ch in username):
        raise AccountError(f"username {username!r}: one word, no spaces")
    if role not in ROLES:
        raise AccountError(f"role {role!r}: use one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"password for {username!r}: at least {MIN_PASSWORD} characters")
    if not agency_id.strip():
        raise AccountError("agency: give the agency id, for example FT-07-001")
    with store.begin() as conn:
        if conn.execute(sa.select(users.c.user_id).where(users.c.username == username)).first():
            raise AccountError(f"username {username!r} exists already")
        conn.execute(store.insert_ignore(agencies).values(agency_id=agency_id, name=f"Agence {agency_id}"))
        user_id = conn.execute(
            sa.insert(users)
            .values(
                username=username,
                display_name=display_name or username,
                agency_id=agency_id,
                role=role,
                password_hash=_hasher.hash(password),
                auth_provider="local",
                active=True,
                created_at=now,
            )
            .returning(users.c.user_id)
        ).scalar_one()
    return User(int(user_id), username, display_name or username, agency_id, role)


def set_password(store: OpStore, username: str, password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"password for {username!r}: at least {MIN_PASSWORD} characters")
    with store.begin() as conn:
        changed = conn.execute(
            sa.update(users).where(users.c.username == username.lower()).values(password_hash=_hasher.hash(password))
        ).rowcount
        if not changed:
            raise AccountError(f"no account {username!r}")
        # signing in again everywhere: a changed password closes the open sessions
        user_id = conn.execute(sa.select(users.c.user_id).where(users.c.username == username.lower())).scalar_one()
        conn.execute(sa.delete(web_sessions).where(web_sessions.c.user_id == user_id))


def list_users(store: OpStore) -> list[User]:
    with store.begin() as conn:
        return [_user(r) for r in conn.execute(sa.select(users).order_by(users.c.agency_id, users.c.username))]


def authenticate(store: OpStore, username: str, password: str) -> User | None:
    """The active local account with this username and password, or None (same time either way)."""
    with store.begin() as conn:
        row = conn.execute(
            sa.select(users).where(users.c.username == username.strip().lower(), users.c.active.is_(True))
        ).first()
    stored = row._mapping["password_hash"] if row is not None else None
    try:
        _hasher.verify(stored or _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if row is None or stored is None:
        return None
    return _user(row)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(store: OpStore, user: User, *, now: datetime) -> tuple[str, Session]:
    """A new session for a signed-in user: returns the cookie's token and the session."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    with store.begin() as conn:
        conn.execute(sa.delete(web_sessions).where(web_sessions.c.expires_at < now))
        conn.execute(
            sa.insert(web_sessions).values(
                token_hash=_digest(token),
                user_id=user.user_id,
                csrf_token=csrf,
                created_at=now,
                expires_at=now + SESSION_LIFETIME,
            )
        )
    return token, Session(user, csrf)


def find_session(store: OpStore, token: str | None, *, now: datetime) -> Session | None:
    """The live session of this cookie token, or None (unknown, expired, or the account was disabled)."""
    if not token:
        return None
    s = web_sessions
    with store.begin() as conn:
        row = conn.execute(
            sa.select(users, s.c.csrf_token)
            .select_from(s.join(users, users.c.user_id == s.c.user_id))
            .where(s.c.token_hash == _digest(token), s.c.expires_at > now, users.c.active.is_(True))
        ).first()
    if row is None:
        return None
    return Session(_user(row), row._mapping["csrf_token"])


def close_session(store: OpStore, token: str | None) -> None:
    if token:
        with store.begin() as conn:
            conn.execute(sa.delete(web_sessions).where(web_sessions.c.token_hash == _digest(token)))


def csrf_matches(expected: str, given: str | None) -> bool:
    return bool(given) and secrets.compare_digest(expected, given or "")

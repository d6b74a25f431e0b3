"""Authentication and authorization: passwords, tokens, the acting user."""
from __future__ import annotations

import functools
import hashlib
import logging
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from werkzeug.security import check_password_hash, generate_password_hash

from fieldservice.auth import passwords
from fieldservice.auth.actor import Actor
from fieldservice.auth.models import ApiToken, OfficeSession, Role, User
from fieldservice.common.pagination import Page, PageRequest, paginate
from fieldservice.db import rows_of, utcnow
from fieldservice.errors import AuthenticationFailed, Conflict, NotFound, ValidationFailed
from fieldservice.extensions import db

log = logging.getLogger(__name__)

TOKEN_PREFIX = "fs_"
MIN_PASSWORD_LENGTH = passwords.MIN_LENGTH


SYSTEM = Actor(user_id=None, role=Role.ADMIN, display_name="system")
"""The actor for the CLI, migrations of data and scheduler jobs."""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def create_user(username: str, password: str, role: Role, display_name: str | None = None,
                email: str | None = None, customer_id: uuid.UUID | None = None, *, actor: Actor | None = None,
                id: uuid.UUID | None = None, supervisor_id: uuid.UUID | None = None) -> User:
    """Create a login. Raises Conflict (username taken), ValidationFailed (weak password, customer link)."""
    from fieldservice.audit import service as audit_service

    username = username.strip().lower()
    passwords.check(password, username)
    if db.session.scalar(sa.select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"username {username!r} is taken")
    if role is Role.CUSTOMER and customer_id is None:
        raise ValidationFailed("a customer login needs customer_id", errors={"customer_id": ["required for role customer"]})
    if role is not Role.CUSTOMER and customer_id is not None:
        raise ValidationFailed("only customer logins are linked to a customer",
                               errors={"customer_id": ["only for role customer"]})
    if customer_id is not None:
        from fieldservice.customers.models import Customer
        if db.session.get(Customer, customer_id) is None:
            raise ValidationFailed("unknown customer", errors={"customer_id": ["unknown customer"]})
    if supervisor_id is not None:
        check_supervisor(None, supervisor_id)
    user = User(username=username, password_hash=hash_password(password), role=role,
                display_name=display_name or username, email=email, customer_id=customer_id,
                supervisor_id=supervisor_id)
    if id is not None:
        user.id = id
    db.session.add(user)
    db.session.flush()
    audit_service.record(actor or SYSTEM, "user.create", user, {"username": username, "role": role,
                                                                 **({"supervisor_id": supervisor_id}
                                                                    if supervisor_id else {})})
    return user


SUPERVISOR_ROLES = frozenset({Role.OFFICE, Role.ADMIN, Role.DISPATCHER})


SUPERVISOR_LOCK_KEY = 0x46535355  # "FSSU": serialises supervisor changes on PostgreSQL (cycle check)


def check_supervisor(user_id: uuid.UUID | None, supervisor_id: uuid.UUID) -> None:
    """The supervisor a user's SLA breaches escalate to (R-SLA-2) must be an existing, active office, admin
    or dispatcher login that is not the user itself nor anybody below it (no cycles). Raises
    ValidationFailed (422). On PostgreSQL supervisor changes are serialised by a transaction-scoped
    advisory lock, so two admins closing a loop at once cannot both pass; the chain is read afresh from
    the database after the lock (column selects, not the session's cached objects)."""
    def refuse(reason: str) -> ValidationFailed:
        return ValidationFailed(f"invalid supervisor: {reason}", errors={"supervisor_id": [reason]})

    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": SUPERVISOR_LOCK_KEY})

    def row(id_: uuid.UUID) -> sa.Row[Any] | None:
        return db.session.execute(sa.select(User.id, User.role, User.is_active, User.supervisor_id)
                                  .where(User.id == id_)).first()

    supervisor = row(supervisor_id)
    if supervisor is None:
        raise refuse("unknown user")
    if supervisor.role not in SUPERVISOR_ROLES:
        raise refuse(f"a supervisor must be an office, admin or dispatcher login, not {supervisor.role.value}")
    if not supervisor.is_active:
        raise refuse("that login is disabled")
    seen: set[uuid.UUID] = set()
    current = supervisor
    while current is not None:
        if user_id is not None and current.id == user_id:
            raise refuse("a user cannot be their own supervisor, directly or through others (cycle)")
        if current.id in seen:  # an older loop above (not made through this service): stop walking
            break
        seen.add(current.id)
        current = row(current.supervisor_id) if current.supervisor_id else None


def list_users(page: PageRequest, *, role: Role | None = None, is_active: bool | None = None) -> Page:
    stmt = sa.select(User).order_by(User.username, User.id)
    if role:
        stmt = stmt.where(User.role == role)
    if is_active is not None:
        stmt = stmt.where(User.is_active == is_active)
    return paginate(stmt, page)


def set_password(user: User, password: str) -> None:
    """A new password (the policy of auth/passwords.py); every session and token of the user ends."""
    passwords.check(password, user.username)
    user.password_hash = hash_password(password)
    revoke_all_tokens(user)
    end_office_sessions(user, reason="password_changed")


def issue_token(username: str, password: str, *, label: str | None = None,
                now: datetime | None = None) -> tuple[str, ApiToken]:
    """Exchange a username and password for a bearer token. Raises AuthenticationFailed."""
    now = now or utcnow()
    return mint_token(check_password(username, password), label=label, now=now)


def check_password(username: str, password: str) -> User:
    """The active user with this username and password (token issue, office page login), else
    AuthenticationFailed."""
    user = db.session.scalar(sa.select(User).where(User.username == username.strip().lower()))
    # check a hash even for unknown users so timing does not reveal which usernames exist
    stored = user.password_hash if user else _dummy_hash()
    if not check_password_hash(stored, password) or user is None or not user.is_active:
        raise AuthenticationFailed("invalid username or password")
    return user


def mint_token(user: User, *, label: str | None = None, now: datetime | None = None,
               ttl: timedelta | None = None) -> tuple[str, ApiToken]:
    now = now or utcnow()
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user=user, token_hash=hash_token(raw), label=label, created_at=now,
                     expires_at=now + (ttl or timedelta(hours=current_app.config["TOKEN_TTL_HOURS"])))
    db.session.add(token)
    db.session.flush()
    return raw, token


_DUMMY: dict[str, str] = {}


def _dummy_hash() -> str:
    method = current_app.config["PASSWORD_HASH_METHOD"]
    if method not in _DUMMY:
        _DUMMY[method] = generate_password_hash(secrets.token_hex(8), method=method)
    return _DUMMY[method]


def authenticate_token(raw: str, *, now: datetime | None = None) -> tuple[uuid.UUID, Actor]:
    """Resolve a bearer token to (its id, its actor). Raises AuthenticationFailed for unknown, expired or revoked
    tokens and for disabled users. One statement: the token with its user and, for a technician, the
    technician's id (a Core row, no ORM objects, straight from the driver on PostgreSQL: this runs on every API
    request)."""
    now = now or utcnow()
    rows = rows_of(db.session, _token_query(), {"token_hash": hash_token(raw)})
    row = rows[0] if rows else None
    if row is None:
        raise AuthenticationFailed("unknown token")
    if row.revoked_at is not None:
        raise AuthenticationFailed("token revoked")
    if row.expires_at <= now:
        raise AuthenticationFailed("token expired")
    if not row.is_active:
        raise AuthenticationFailed("account disabled")
    return row.token_id, Actor(user_id=row.user_id, role=Role(row.role), display_name=row.display_name,
                               technician_id=row.technician_id, customer_id=row.customer_id)


@functools.cache
def _token_query() -> sa.Select[Any]:
    from fieldservice.technicians.models import Technician

    return (sa.select(ApiToken.id.label("token_id"), ApiToken.revoked_at, ApiToken.expires_at,
                      User.id.label("user_id"), User.role, User.display_name, User.is_active, User.customer_id,
                      Technician.id.label("technician_id"))
            .join(User, User.id == ApiToken.user_id)
            .outerjoin(Technician, sa.and_(Technician.user_id == User.id, User.role == Role.TECHNICIAN))
            .where(ApiToken.token_hash == sa.bindparam("token_hash")))


def actor_for(user: User) -> Actor:
    technician_id = None
    if user.role is Role.TECHNICIAN:
        from fieldservice.technicians.models import Technician
        technician_id = db.session.scalar(sa.select(Technician.id).where(Technician.user_id == user.id))
    return Actor(user_id=user.id, role=user.role, display_name=user.display_name,
                 technician_id=technician_id, customer_id=user.customer_id)


def revoke_token(token_id: uuid.UUID, *, now: datetime | None = None) -> ApiToken:
    token = db.session.get(ApiToken, token_id)
    if token is None:
        raise NotFound("token not found")
    if token.revoked_at is None:
        token.revoked_at = now or utcnow()
    return token


def revoke_all_tokens(user: User, *, now: datetime | None = None) -> int:
    now = now or utcnow()
    count = 0
    for token in user.tokens:
        if token.revoked_at is None:
            token.revoked_at = now
            count += 1
    return count


# ---- office page sessions (docs/security.md) ----------------------------------------------------------

IDLE_TOUCH_SECONDS = 60  # last_seen_at is written at most once a minute per session


def start_office_session(user: User, *, address: str | None = None, user_agent: str | None = None,
                         now: datetime | None = None) -> str:
    """A new server-side session for the office pages; returns the random session id for the cookie (only
    its SHA-256 is stored). It ends OFFICE_SESSION_HOURS after login whatever the activity."""
    now = now or utcnow()
    raw = secrets.token_urlsafe(32)
    db.session.add(OfficeSession(user_id=user.id, token_hash=hash_token(raw), created_at=now, last_seen_at=now,
                                 expires_at=now + current_app.config["PERMANENT_SESSION_LIFETIME"],
                                 address=(address or "")[:64] or None, user_agent=(user_agent or "")[:200] or None))
    db.session.flush()
    return raw


def office_session_user(raw: str, *, now: datetime | None = None) -> User | None:
    """The active user of a live session, else None. A session past its absolute end (expires_at) or idle
    longer than OFFICE_SESSION_IDLE_MINUTES is ended here; a live one has its last_seen_at moved on."""
    now = now or utcnow()
    row = db.session.scalar(sa.select(OfficeSession).where(OfficeSession.token_hash == hash_token(raw)))
    if row is None or row.revoked_at is not None:
        return None
    idle = timedelta(minutes=current_app.config["OFFICE_SESSION_IDLE_MINUTES"])
    reason = ("expired" if now >= row.expires_at else "idle" if now - row.last_seen_at >= idle
              else "user_disabled" if not row.user.is_active else None)
    if reason:
        row.revoked_at, row.revoked_reason = now, reason
        return None
    if (now - row.last_seen_at).total_seconds() >= IDLE_TOUCH_SECONDS:
        row.last_seen_at = now
    return row.user


def end_office_session(raw: str, *, reason: str = "logout", now: datetime | None = None) -> None:
    row = db.session.scalar(sa.select(OfficeSession).where(OfficeSession.token_hash == hash_token(raw)))
    if row is not None and row.revoked_at is None:
        row.revoked_at, row.revoked_reason = now or utcnow(), reason


def end_office_sessions(user: User, *, reason: str, now: datetime | None = None) -> int:
    """End every live office session of a user (revoke-tokens, password change, disabled login)."""
    result = db.session.execute(sa.update(OfficeSession).where(
        OfficeSession.user_id == user.id, OfficeSession.revoked_at.is_(None)).values(
        revoked_at=now or utcnow(), revoked_reason=reason))
    return int(result.rowcount or 0)


def get_user(user_id: uuid.UUID) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("user not found")
    return user


def update_user(actor: Actor, user_id: uuid.UUID, data: dict[str, object]) -> User:
    from fieldservice.audit import service as audit_service

    user = get_user(user_id)
    password = data.pop("password", None)
    if password is not None:
        set_password(user, str(password))  # ends its tokens and office sessions
    if data.get("supervisor_id") is not None:
        check_supervisor(user.id, data["supervisor_id"])  # type: ignore[arg-type]
    diff = audit_service.changes(user, data)
    if data.get("is_active") is False:
        revoke_all_tokens(user)
        end_office_sessions(user, reason="user_disabled")
    if diff or password is not None:
        audit_service.record(actor, "user.update", user, {**diff, **({"password": "changed"} if password else {})})
    return user

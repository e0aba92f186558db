"""Users: creating them (or activating a placeholder an import made), listing and finding them."""

from __future__ import annotations

import re

from sqlalchemy import func
from sqlmodel import Session, select

from core import audit
from core.accounts import AuthError
from core.accounts.passwords import MIN_PASSWORD_LENGTH, hash_password
from core.auth import UserPublic
from core.store.models import ROLES, User

USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,149}$")


def create_user(
    session: Session,
    *,
    username: str,
    role: str,
    password: str,
    display_name: str = "",
    email: str | None = None,
    actor_id: int | None = None,
) -> UserPublic:
    """Create an active user with a hashed password, or activate a placeholder user made by an import."""
    if not USERNAME_PATTERN.match(username):
        raise AuthError(f"username {username!r}: use letters, digits and . _ @ + - (at most 150 characters)")
    if role not in ROLES:
        raise AuthError(f"role {role!r} is not one of: {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AuthError(f"password: at least {MIN_PASSWORD_LENGTH} characters")
    user = session.exec(select(User).where(User.username == username)).first()
    if user is not None and (user.active or user.password_hash):
        raise AuthError(f"user {username!r} exists already")
    before = None if user is None else {"role": user.role, "active": user.active}
    user = user or User(username=username, role=role)
    user.role, user.active, user.password_hash = role, True, hash_password(password)
    user.display_name, user.email = display_name or user.display_name or username, email or user.email
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor_id=actor_id,
        action="user.create" if before is None else "user.activate",
        entity="user",
        entity_id=user.id,
        before=before,
        after={"username": username, "role": role, "active": True},
    )
    return UserPublic.of(user)


def list_users(session: Session) -> list[UserPublic]:
    return [UserPublic.of(u) for u in session.exec(select(User).order_by(User.role, User.username))]


def count_users(session: Session) -> int:
    return session.exec(select(func.count()).select_from(User)).one()


def find_user(session: Session, username: str) -> UserPublic | None:
    user = session.exec(select(User).where(User.username == username)).first()
    return None if user is None else UserPublic.of(user)


def active_admins(session: Session) -> list[UserPublic]:
    query = select(User).where(User.role == "admin", User.active).order_by(User.username)
    return [UserPublic.of(u) for u in session.exec(query)]


def deactivate(session: Session, *, username: str, actor_id: int | None) -> UserPublic:
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None:
        raise AuthError(f"user {username!r}: no such user (python -m core users list shows them)")
    if not user.active:
        raise AuthError(f"user {username!r} is inactive already")
    if user.role == "admin" and [admin.id for admin in active_admins(session)] == [user.id]:
        raise AuthError(f"user {username!r} is the only active admin: add another admin first")
    user.active = False
    session.add(user)
    audit.record(
        session,
        actor_id=actor_id,
        action="user.deactivate",
        entity="user",
        entity_id=user.id,
        before={"active": True},
        after={"active": False},
    )
    return UserPublic.of(user)

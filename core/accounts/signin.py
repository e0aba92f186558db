"""Signing in: a password with lock-out after failures in a row, or an OpenID Connect identity whose claim maps to a
role."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy import func, or_
from sqlmodel import Session, select

from core import audit
from core.accounts import AuthError, sessions
from core.accounts.passwords import dummy_hash, verify
from core.accounts.users import USERNAME_PATTERN
from core.auth import UserPublic
from core.config import get_settings
from core.store.models import ROLES, User, utcnow
from core.text import NUL


def authenticate(session: Session, *, username: str, password: str, now: datetime | None = None) -> UserPublic:
    """Check a password; five failures in a row lock the account for a few minutes."""
    settings = get_settings()
    now = now or utcnow()
    user = None if NUL in username else session.exec(select(User).where(User.username == username)).first()
    if user is None or not user.password_hash:
        verify(dummy_hash(), password)
        raise AuthError("Wrong username or password.")
    if user.locked_until is not None and user.locked_until > now:
        minutes = max(1, round((user.locked_until - now).total_seconds() / 60))
        raise AuthError(f"Too many failed sign-ins: this account is locked for about {minutes} more minute(s).")
    if not verify(user.password_hash, password):
        user.failed_logins += 1
        if user.failed_logins >= settings.lockout_attempts:
            user.failed_logins = 0
            user.locked_until = now + timedelta(minutes=settings.lockout_minutes)
            audit.record(session, actor_id=None, action="user.lock", entity="user", entity_id=user.id)
            sessions.end_all(session, user.id, "locked")
            session.add(user)
            raise AuthError(f"Too many failed sign-ins: this account is locked for {settings.lockout_minutes} minutes.")
        session.add(user)
        raise AuthError("Wrong username or password.")
    if not user.active:
        raise AuthError("This account is inactive: ask an admin to activate it.")
    user.failed_logins, user.locked_until = 0, None
    session.add(user)
    return UserPublic.of(user)


def parse_role_map(text: str) -> list[tuple[str, str]]:
    """OIDC_ROLE_MAP ("wb-admins=admin,wb-experts=expert") as (claim value, role) pairs, in the order written:
    a person in several mapped groups gets the role of the first pair that matches."""
    pairs = []
    for entry in filter(None, (part.strip() for part in text.split(","))):
        value, _, role = (side.strip() for side in entry.partition("="))
        if not value or role not in ROLES:
            raise AuthError(
                f"OIDC_ROLE_MAP entry {entry!r}: write claim-value=role, the role one of: {', '.join(ROLES)}"
            )
        pairs.append((value, role))
    return pairs


def role_from_claims(claims: Mapping[str, object], claim: str, role_map: list[tuple[str, str]]) -> str | None:
    """The workbench role the identity provider's claim maps to, or None. The claim may be a list (groups) or a
    string of values separated by commas or spaces."""
    raw = claims.get(claim)
    values = (
        set(re.split(r"[,\s]+", raw)) if isinstance(raw, str) else set(raw) if isinstance(raw, list | tuple) else set()
    )
    return next((role for value, role in role_map if value in values), None)


def sign_in_external(session: Session, *, claims: Mapping[str, object]) -> UserPublic:
    """The user of an OpenID Connect identity (claims of its ID token), with the role its claim maps to.

    The first sign-in links the user whose e-mail or username matches (a placeholder from an import is activated),
    or creates one; later sign-ins follow the identity provider's role. Every change is audited."""
    settings = get_settings()
    issuer, subject = str(claims.get("iss") or ""), str(claims.get("sub") or "")
    if not subject:
        raise AuthError("The identity provider sent no subject (sub) claim: sign-in refused.")
    role = role_from_claims(claims, settings.oidc_role_claim, parse_role_map(settings.oidc_role_map))
    if role is None:
        raise AuthError(
            f"Your account has no role in this workbench (no {settings.oidc_role_claim!r} value of yours is mapped): "
            "ask an admin to add you to one of the workbench's groups."
        )
    external_id = f"{issuer}|{subject}"
    user, action = _user_of_identity(session, external_id, claims, role)
    if action != "user.create" and not user.active and (user.password_hash or user.external_id):
        raise AuthError("This account is inactive: ask an admin to activate it.")  # not an import's placeholder
    before = (
        None if action == "user.create" else {"role": user.role, "active": user.active, "external": user.external_id}
    )
    if action != "user.role" or user.role != role:
        user.external_id, user.role, user.active = external_id, role, True
        user.display_name = user.display_name or str(claims.get("name") or user.username)
        session.add(user)
        session.flush()
        after = {"username": user.username, "role": role, "active": True, "external": external_id}
        audit.record(
            session, actor_id=None, action=action, entity="user", entity_id=user.id, before=before, after=after
        )
    return UserPublic.of(user)


def _user_of_identity(session: Session, external_id: str, claims: Mapping[str, object], role: str) -> tuple[User, str]:
    """The user already linked to the identity, else an unlinked one with its e-mail or username, else a new one;
    with the audit action that signing in means for it."""
    user = session.exec(select(User).where(User.external_id == external_id)).first()
    if user is not None:
        return user, "user.role"
    email = str(claims.get("email") or "") or None
    username = str(claims.get("preferred_username") or email or claims["sub"])
    same = [User.username == username] + ([func.lower(User.email) == email.lower()] if email else [])
    user = session.exec(select(User).where(User.external_id.is_(None), or_(*same))).first()
    if user is not None:
        return user, "user.link"
    if not USERNAME_PATTERN.match(username):
        raise AuthError(f"The identity provider's username {username!r} cannot be used here: ask an admin.")
    return User(username=username, role=role, email=email), "user.create"

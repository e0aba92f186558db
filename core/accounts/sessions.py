"""Sign-in sessions kept in the store. The browser holds a random token in an HttpOnly cookie; the store keeps only
its SHA-256 hash. Signing in makes a one-time code, valid for a minute, that the browser trades for the token at
/session/open (a Streamlit script cannot set an HttpOnly cookie). A session ends at sign-out, after
SESSION_IDLE_MINUTES without use, and when its account is locked or deactivated; starting and ending are audited."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlmodel import Session, select

from core import audit
from core.auth import UserPublic
from core.config import get_settings
from core.store.models import User, UserSession, utcnow

HANDOFF_SECONDS = 60
TOUCH_SECONDS = 60  # last_seen_at is written at most once a minute: reads stay reads


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def start(session: Session, user_id: int, now: datetime | None = None) -> str:
    """Open a session for the user; returns the one-time code that hands its token to the browser."""
    now = now or utcnow()
    handoff = secrets.token_urlsafe(32)
    row = UserSession(
        user_id=user_id,
        handoff_hash=_hash(handoff),
        handoff_expires=now + timedelta(seconds=HANDOFF_SECONDS),
        created_at=now,
        last_seen_at=now,
    )
    session.add(row)
    session.flush()
    audit.record(session, actor_id=user_id, action="session.create", entity="user_session", entity_id=row.id)
    return handoff


def redeem(session: Session, handoff: str, now: datetime | None = None) -> str | None:
    """The session token for a live one-time code (which is then spent); None for an unknown, spent or old code."""
    now = now or utcnow()
    row = session.exec(select(UserSession).where(UserSession.handoff_hash == _hash(handoff))).first()
    if row is None or row.ended_at is not None or row.handoff_expires < now:
        return None
    token = secrets.token_urlsafe(32)
    row.token_hash, row.handoff_hash, row.handoff_expires, row.last_seen_at = _hash(token), None, None, now
    session.add(row)
    return token


def user_of(session: Session, token: str, now: datetime | None = None) -> UserPublic | None:
    """The active, unlocked user of a live session; a session idle for too long ends here."""
    now = now or utcnow()
    found = session.exec(
        select(UserSession, User)
        .join(User, User.id == UserSession.user_id)
        .where(UserSession.token_hash == _hash(token), UserSession.ended_at.is_(None))
    ).first()
    if found is None:
        return None
    row, user = found
    if now - row.last_seen_at > timedelta(minutes=get_settings().session_idle_minutes):
        _end(session, row, "idle", now)
        return None
    if not user.active or (user.locked_until is not None and user.locked_until > now):
        return None
    if now - row.last_seen_at >= timedelta(seconds=TOUCH_SECONDS):
        row.last_seen_at = now
        session.add(row)
    return UserPublic.of(user)


def end(session: Session, token: str, reason: str = "sign-out") -> None:
    row = session.exec(
        select(UserSession).where(UserSession.token_hash == _hash(token), UserSession.ended_at.is_(None))
    ).first()
    if row is not None:
        _end(session, row, reason, utcnow())


def end_all(session: Session, user_id: int, reason: str) -> int:
    """End every live session of a user (locked, deactivated); returns how many ended."""
    rows = session.exec(select(UserSession).where(UserSession.user_id == user_id, UserSession.ended_at.is_(None))).all()
    now = utcnow()
    for row in rows:
        _end(session, row, reason, now)
    return len(rows)


def _end(session: Session, row: UserSession, reason: str, now: datetime) -> None:
    row.ended_at, row.end_reason, row.handoff_hash = now, reason, None
    session.add(row)
    audit.record(
        session,
        actor_id=row.user_id,
        action="session.end",
        entity="user_session",
        entity_id=row.id,
        after={"reason": reason},
    )

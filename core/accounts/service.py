"""What the sign-in screen, the CLI and the admin call about accounts: one function per action, each its own
transaction."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import Engine

from core.accounts import AuthError, sessions, signin, users
from core.auth import UserPublic, guarded
from core.store.db import session_scope


@dataclass(frozen=True)
class SignedIn:
    """A sign-in that succeeded: the user, and the one-time code that hands the session's token to the browser."""

    user: UserPublic
    handoff: str


def sign_in(*, username: str, password: str, engine: Engine | None = None) -> SignedIn:
    """Check the password and open a session; raises AuthError. A refusal is written too (failed attempts count
    towards the lock-out), so the transaction commits before the error is raised."""
    refused: AuthError | None = None
    with session_scope(engine, write=True) as session:
        try:
            user = signin.authenticate(session, username=username.strip(), password=password)
        except AuthError as error:
            refused = error
        else:
            return SignedIn(user, sessions.start(session, user.id))
    raise refused


def sign_in_external(*, claims: Mapping[str, object], engine: Engine | None = None) -> SignedIn:
    """The user of a single sign-on identity (st.user's claims), created or linked on the first sign-in, with a new
    session."""
    with session_scope(engine, write=True) as session:
        user = signin.sign_in_external(session, claims=claims)
        return SignedIn(user, sessions.start(session, user.id))


def redeem_handoff(*, handoff: str, engine: Engine | None = None) -> str | None:
    """The session token for a sign-in's one-time code (None: unknown, used or expired)."""
    with session_scope(engine, write=True) as session:
        return sessions.redeem(session, handoff)


def session_user(*, token: str, engine: Engine | None = None) -> UserPublic | None:
    """Who holds this session token, while the session lives and the account is active and unlocked."""
    with session_scope(engine, write=True) as session:
        return sessions.user_of(session, token)


def sign_out(*, token: str, engine: Engine | None = None) -> None:
    with session_scope(engine, write=True) as session:
        sessions.end(session, token)


@guarded("users.add")
def add_user(
    *,
    actor: UserPublic | None,
    username: str,
    role: str,
    password: str,
    display_name: str = "",
    email: str | None = None,
    engine: Engine | None = None,
) -> UserPublic:
    with session_scope(engine, write=True) as session:
        return users.create_user(
            session,
            username=username,
            role=role,
            password=password,
            display_name=display_name,
            email=email,
            actor_id=actor.id,
        )


@guarded("users.deactivate")
def deactivate_user(*, actor: UserPublic | None, username: str, engine: Engine | None = None) -> UserPublic:
    """Deactivate an account and end its sessions at once (audited); the store's only active admin stays."""
    with session_scope(engine, write=True) as session:
        user = users.deactivate(session, username=username, actor_id=actor.id)
        sessions.end_all(session, user.id, "deactivated")
        return user


@guarded("users.read")
def list_users(*, actor: UserPublic | None, engine: Engine | None = None) -> list[UserPublic]:
    with session_scope(engine) as session:
        return users.list_users(session)


def command_line_user(username: str | None = None, *, engine: Engine | None = None) -> UserPublic:
    """Who a command acts as: the user named by --as, else CLI_USER, else the store's only active admin."""
    username = username or os.environ.get("CLI_USER") or None
    with session_scope(engine) as session:
        if username is not None:
            user = users.find_user(session, username)
            if user is None:
                raise AuthError(f"--as {username}: no such user (python -m core users list shows them)")
            if not user.active:
                raise AuthError(f"--as {username}: this account is inactive")
            return user
        admins = users.active_admins(session)
    if len(admins) != 1:
        found = "no active admin" if not admins else f"{len(admins)} active admins"
        raise AuthError(
            f"the store has {found}: say who acts with --as USER (or set CLI_USER), e.g. --as admin"
            if admins
            else f"the store has {found}: add one with `python -m core users add NAME --role admin`"
        )
    return admins[0]


def create_first_admin(
    *, username: str, password: str, display_name: str = "", email: str | None = None, engine: Engine | None = None
) -> UserPublic:
    """The store's first admin, made by the command line on a store without one: nobody could act for it yet.
    Refused once an active admin exists (then an admin adds users)."""
    with session_scope(engine, write=True) as session:
        if users.active_admins(session):
            raise AuthError("the store has an admin already: add users as an admin (--as ADMIN)")
        return users.create_user(
            session, username=username, role="admin", password=password, display_name=display_name, email=email
        )


def has_active_admin(*, engine: Engine | None = None) -> bool:
    with session_scope(engine) as session:
        return bool(users.active_admins(session))

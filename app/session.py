"""Who is signed in, the page gate every page calls first, signing in and out, and the cached engine."""

from __future__ import annotations

import streamlit as st
from sqlalchemy import Engine
from sqlalchemy.exc import ProgrammingError

from core.auth import AuthError, UserPublic, authenticate, can_open, sign_in_external
from core.config import get_settings
from core.db import StoreError, get_engine, session_scope

USER_KEY = "user"
OIDC_REFUSED_KEY = "oidc_refused"
NO_ACCESS = "You do not have access to this page."
STORE_UNUSABLE = (
    "The store cannot be used: it is unreachable or its tables are missing. "
    "Create or upgrade it with `python -m core init` (or `make init`), then reload this page."
)


@st.cache_resource(show_spinner=False)
def _engine_for(url: str) -> Engine:
    return get_engine(url)


def engine() -> Engine:
    """The process-wide engine of the store named by DATABASE_URL (read now, so tests can point it elsewhere)."""
    return _engine_for(get_settings().database_url)


def current_user() -> UserPublic | None:
    user = st.session_state.get(USER_KEY)
    return user if isinstance(user, UserPublic) else None


def require_page(page_key: str) -> UserPublic:
    """The signed-in user if their role may open this page; otherwise say so and stop the page."""
    user = current_user()
    if user is None or not can_open(user.role, page_key):
        st.error(NO_ACCESS, icon=":material/block:")
        st.stop()
    return user


def sign_in(username: str, password: str) -> str | None:
    """Check the password and remember the user; returns the reason when refused.

    A refusal is written (failed attempts count towards the lock-out), so the transaction must commit: the
    AuthError is caught inside the block and reported after it."""
    refused: str | None = None
    try:
        with session_scope(engine(), write=True) as session:
            try:
                user = authenticate(session, username=username.strip(), password=password)
            except AuthError as error:
                refused = str(error)
    except StoreError as error:
        return str(error)
    except ProgrammingError:  # PostgreSQL without the tables
        return STORE_UNUSABLE
    if refused is not None:
        return refused
    st.session_state[USER_KEY] = user
    return None


def oidc_configured() -> bool:
    """Single sign-on is offered where .streamlit/secrets.toml has an [auth] section (what st.login needs)."""
    return st.secrets.load_if_toml_exists() and "auth" in st.secrets


def sign_in_oidc() -> None:
    """After st.login: the workbench user of the identity in st.user (created or linked on the first sign-in).

    A refusal is kept in the session for the sign-in screen, which then offers to leave the identity provider."""
    if current_user() is not None or OIDC_REFUSED_KEY in st.session_state or not st.user.is_logged_in:
        return
    try:
        with session_scope(engine(), write=True) as session:
            st.session_state[USER_KEY] = sign_in_external(session, claims=st.user.to_dict())
    except AuthError as error:
        st.session_state[OIDC_REFUSED_KEY] = str(error)
    except StoreError as error:
        st.session_state[OIDC_REFUSED_KEY] = str(error)
    except ProgrammingError:  # PostgreSQL without the tables
        st.session_state[OIDC_REFUSED_KEY] = STORE_UNUSABLE


def sign_out() -> None:
    st.session_state.clear()
    if oidc_configured() and st.user.is_logged_in:
        st.logout()  # forgets the identity cookie too and sends the browser to the provider's sign-out
    st.rerun()

"""Who is signed in, the page gate every page calls first, and signing in and out."""

from __future__ import annotations

import streamlit as st

from core.accounts import AuthError
from core.accounts import service as accounts
from core.auth import UserPublic, can_open
from core.store.db import StoreError

USER_KEY = "user"
OIDC_REFUSED_KEY = "oidc_refused"
NO_ACCESS = "You do not have access to this page."


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
    """Check the password and remember the user; returns the reason when refused."""
    try:
        st.session_state[USER_KEY] = accounts.sign_in(username=username, password=password)
    except (AuthError, StoreError) as error:
        return str(error)
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
        st.session_state[USER_KEY] = accounts.sign_in_external(claims=st.user.to_dict())
    except (AuthError, StoreError) as error:
        st.session_state[OIDC_REFUSED_KEY] = str(error)


def sign_out() -> None:
    st.session_state.clear()
    if oidc_configured() and st.user.is_logged_in:
        st.logout()  # forgets the identity cookie too and sends the browser to the provider's sign-out
    st.rerun()

"""Who is signed in, the page gate every page calls first, and signing in and out.

A sign-in is a server-side session (core.accounts.sessions) behind the HttpOnly cookie COOKIE, which app/server.py
sets and clears; a reload, a second tab or a link finds the person by that cookie."""

from __future__ import annotations

import contextlib
import time
from urllib.parse import urlencode

import streamlit as st

from core.accounts import AuthError
from core.accounts import service as accounts
from core.auth import UserPublic, can_open
from core.config import get_settings
from core.store.db import StoreError

USER_KEY = "user"
GOTO_KEY = "goto"  # a URL of this app the browser is sent to on the next run
CHECKED_KEY = "session_checked"  # when the cookie's session was last found live (monotonic seconds)
OIDC_REFUSED_KEY = "oidc_refused"
NO_ACCESS = "You do not have access to this page."
COOKIE = "wb_session"
RECHECK_SECONDS = 60  # a session ended elsewhere (sign-out, lock, deactivation) ends here within a minute

_goto = st.components.v2.component(
    "workbench_goto", js="export default function ({ data }) { if (data) window.location.assign(data); }"
)


def cookie_settings(secure: bool) -> dict:
    """HttpOnly (no script reads it), SameSite=Strict (no other site sends it), for the whole app, kept as long as a
    session may stay idle (the server ends it then anyway)."""
    return {
        "httponly": True,
        "samesite": "strict",
        "secure": secure,
        "path": "/",
        "max_age": get_settings().session_idle_minutes * 60,
    }


def current_user() -> UserPublic | None:
    """The signed-in user: remembered in this browser tab, or found by the session cookie (rechecked once a minute)."""
    user = st.session_state.get(USER_KEY)
    token = session_token()
    if isinstance(user, UserPublic) and (token is None or not _due(token)):
        return user
    if token is None:
        return None
    try:
        user = accounts.session_user(token=token)
    except StoreError:
        user = None
    if user is None:
        st.session_state.pop(USER_KEY, None)
        return None
    st.session_state[USER_KEY] = user
    st.session_state[CHECKED_KEY] = (token, time.monotonic())
    return user


def session_token() -> str | None:
    token = st.context.cookies.get(COOKIE)
    return token if isinstance(token, str) and token else None


def _due(token: str) -> bool:
    checked = st.session_state.get(CHECKED_KEY)
    return checked is None or checked[0] != token or time.monotonic() - checked[1] > RECHECK_SECONDS


def require_page(page_key: str) -> UserPublic:
    """The signed-in user if their role may open this page; otherwise say so and stop the page."""
    user = current_user()
    if user is None or not can_open(user.role, page_key):
        st.error(NO_ACCESS, icon=":material/block:")
        st.stop()
    return user


def follow_redirect() -> None:
    """Send the browser where the last run asked (a full page load), if it asked."""
    if url := st.session_state.pop(GOTO_KEY, None):
        _goto(data=url, key="goto-component", height=0)


def open_session(signed_in: accounts.SignedIn, next_path: str) -> None:
    """Signed in: remember the user in this tab, and have the browser fetch the session cookie, then the page asked
    for."""
    st.session_state[USER_KEY] = signed_in.user
    st.session_state[GOTO_KEY] = "/session/open?" + urlencode({"code": signed_in.handoff, "next": next_path})


def sign_in(username: str, password: str, next_path: str = "/") -> str:
    """Check the password and open a session, then rerun signed in; returns the reason when refused."""
    try:
        open_session(accounts.sign_in(username=username, password=password), next_path)
    except (AuthError, StoreError) as error:
        return str(error)
    st.rerun()


def oidc_configured() -> bool:
    """Single sign-on is offered where .streamlit/secrets.toml has an [auth] section (what st.login needs)."""
    return st.secrets.load_if_toml_exists() and "auth" in st.secrets


def sign_in_oidc(next_path: str) -> None:
    """After st.login: the workbench user of the identity in st.user (created or linked on the first sign-in).

    A refusal is kept in the session for the sign-in screen, which then offers to leave the identity provider."""
    if current_user() is not None or OIDC_REFUSED_KEY in st.session_state or not st.user.is_logged_in:
        return
    try:
        open_session(accounts.sign_in_external(claims=st.user.to_dict()), next_path)
    except (AuthError, StoreError) as error:
        st.session_state[OIDC_REFUSED_KEY] = str(error)


def sign_out() -> None:
    """End the session on the server, drop its cookie (/session/close) and forget everything in this tab."""
    token = session_token()
    st.session_state.clear()
    if token:
        with contextlib.suppress(StoreError):  # the session ends when idle; the cookie goes now
            accounts.sign_out(token=token)
    if oidc_configured() and st.user.is_logged_in:
        st.logout()  # forgets the identity cookie too and sends the browser to the provider's sign-out
    st.session_state[GOTO_KEY] = "/session/close"
    st.rerun()

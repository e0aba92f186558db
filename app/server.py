"""The app as served (`streamlit run app/server.py`): the pages of app/main.py, plus the two routes that set and
clear the sign-in cookie. Streamlit's scripts cannot set an HttpOnly cookie, so signing in hands a one-time code to
/session/open, which redeems it for the session token and sets the cookie."""

from __future__ import annotations

import contextlib
from urllib.parse import urlsplit

import streamlit as st
from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.routing import Route

from app.session import COOKIE, cookie_settings
from core.accounts import service as accounts
from core.store.db import StoreError


def local_path(target: str | None) -> str:
    """A path on this app to go on to: anything else (another host, a scheme, //host) goes to the home page."""
    parts = urlsplit(target or "/")
    if parts.scheme or parts.netloc or not parts.path.startswith("/") or parts.path.startswith("//"):
        return "/"
    return parts.path + (f"?{parts.query}" if parts.query else "")


async def open_session(request: Request) -> RedirectResponse:
    response = RedirectResponse(local_path(request.query_params.get("next")), status_code=303)
    try:
        token = accounts.redeem_handoff(handoff=request.query_params.get("code", ""))
    except StoreError:
        token = None
    if token is not None:
        response.set_cookie(COOKIE, token, **cookie_settings(request.url.scheme == "https"))
    return response


async def close_session(request: Request) -> RedirectResponse:
    if token := request.cookies.get(COOKIE):
        with contextlib.suppress(StoreError):  # the cookie goes anyway; the session ends when idle
            accounts.sign_out(token=token)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return response


app = st.App(
    "main.py",
    routes=[Route("/session/open", open_session), Route("/session/close", close_session)],
)

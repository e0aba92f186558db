"""Helpers for the page tests: users of every role, and an AppTest of the app signed in (or not)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest
import streamlit as st
from argon2 import PasswordHasher
from sqlalchemy import Engine
from streamlit.testing.v1 import AppTest

from core import auth
from core.store.db import session_scope
from core.store.models import User

REPO_ROOT = Path(__file__).resolve().parents[1]
APP = str(REPO_ROOT / "app" / "main.py")
PASSWORD = "page-test-pass"
# username -> role; one user per role
USERS = {"ada": "admin", "lea": "lead", "eve": "expert", "ann": "annotator", "pat": "product_owner"}
ROLE_USER = {role: name for name, role in USERS.items()}
TIMEOUT = 30


@pytest.fixture(autouse=True)
def fresh_streamlit_cache():
    """The cached engine must follow each test's DATABASE_URL."""
    st.cache_resource.clear()
    yield
    st.cache_resource.clear()


@cache
def _password_hash() -> str:
    return PasswordHasher().hash(PASSWORD)  # ~0.3 s each: hashed once, shared by every test's users


def add_users(engine: Engine) -> dict[str, auth.UserPublic]:
    """One active user per role (password PASSWORD); returns role -> user."""
    with session_scope(engine, write=True) as session:
        users = {
            role: User(username=name, role=role, display_name=name.title(), password_hash=_password_hash())
            for name, role in USERS.items()
        }
        session.add_all(users.values())
        session.flush()
        return {role: auth.UserPublic.of(user) for role, user in users.items()}


def add_admin(engine: Engine, username: str = "ops") -> auth.UserPublic:
    """The store's one admin: the user a command acts as when no --as names another."""
    with session_scope(engine, write=True) as session:
        user = User(username=username, role="admin", display_name=username.title(), password_hash=_password_hash())
        session.add(user)
        session.flush()
        return auth.UserPublic.of(user)


def app(user: auth.UserPublic | None = None) -> AppTest:
    """The app after a first run, signed in as `user` (or at the sign-in screen)."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    if user is not None:
        at.session_state["user"] = user
    return at.run()


def sign_in(at: AppTest, username: str, password: str) -> AppTest:
    inputs = {t.label: t for t in at.text_input}
    inputs["Username"].input(username)
    inputs["Password"].input(password)
    at.button[0].click()
    return at.run()


def page(name: str) -> str:
    """A page's path as st.navigation registers it (relative to app/main.py)."""
    return f"../pages/{name}.py"


def texts(elements) -> list[str]:
    return [element.value for element in elements]


def field(at: AppTest, name: str, *, change: bool = False):
    """The judging form's widget for `name` (keys are `{queue}-{assignment}-{name}`); change=True: the dialog's
    form that changes the last judgment (keys `change-...`)."""
    for kind in (at.button_group, at.multiselect, at.text_area, at.button):
        for widget in kind:
            key = widget.key or ""
            if key.endswith(f"-{name}") and key.startswith("change-") == change:
                return widget
    raise LookupError(f"no {'change ' if change else ''}field {name!r} on the page")


def toasts(at: AppTest) -> list[str]:
    return [toast.value for toast in at.toast]


def everything(at: AppTest) -> str:
    """Every element the page drew, as text (their protobufs): what a person could read anywhere on the page."""
    parts = []

    def walk(node) -> None:
        if getattr(node, "proto", None) is not None:
            parts.append(str(node.proto))
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return "\n".join(parts)

"""The sign-in screen: refusals with their message, lock-out, and signing out."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from core.accounts import signin
from core.store.db import session_scope
from core.store.models import AuditEvent, User
from tests.app_helpers import PASSWORD, add_users, app, fresh_streamlit_cache, sign_in, texts  # noqa: F401


def test_before_signing_in_only_the_sign_in_form_is_shown(engine):
    at = app()
    assert not at.exception
    assert [t.label for t in at.text_input] == ["Username", "Password"]
    assert [b.label for b in at.button] == ["Sign in"]
    assert not at.metric and "user" not in at.session_state


def test_a_wrong_password_is_refused_with_the_message_shown(engine):
    add_users(engine)
    at = sign_in(app(), "eve", "not-the-password")
    assert not at.exception
    assert texts(at.error) == ["Wrong username or password."]
    assert "user" not in at.session_state
    assert [t.label for t in at.text_input] == ["Username", "Password"]


def test_an_unknown_user_gets_the_same_message(engine):
    add_users(engine)
    at = sign_in(app(), "nobody", PASSWORD)
    assert texts(at.error) == ["Wrong username or password."]


def test_the_right_password_opens_the_home_page_with_the_user_in_the_sidebar(engine):
    users = add_users(engine)
    at = sign_in(app(), "eve", PASSWORD)
    assert not at.exception and not at.error
    assert at.session_state["user"] == users["expert"]
    assert at.title[0].value == "Welcome, Eve"
    assert "Answers to rate" in [m.label for m in at.metric]
    sidebar = [getattr(e, "value", None) for e in at.sidebar]
    assert "**Eve**" in sidebar
    assert any("Expert reviewer" in str(v) and "eve" in str(v) for v in sidebar)


def test_five_failures_lock_the_account_even_for_the_right_password_until_the_lock_ends(engine, monkeypatch):
    add_users(engine)
    at = app()
    for _ in range(4):
        sign_in(at, "eve", "not-the-password")
        assert texts(at.error) == ["Wrong username or password."]
    sign_in(at, "eve", "not-the-password")
    assert texts(at.error) == ["Too many failed sign-ins: this account is locked for 5 minutes."]
    sign_in(at, "eve", PASSWORD)
    assert "user" not in at.session_state
    (message,) = texts(at.error)
    assert message.startswith("Too many failed sign-ins: this account is locked for about")
    with session_scope(engine) as s:
        eve = s.execute(select(User).where(User.username == "eve")).scalar_one()
        locks = s.execute(select(AuditEvent).where(AuditEvent.action == "user.lock")).scalars().all()
    assert [(e.entity, e.entity_id) for e in locks] == [("user", eve.id)]
    # another user is not affected
    sign_in(at, "ann", PASSWORD)
    assert at.session_state["user"].username == "ann"
    # once the lock time has passed, the right password works again
    monkeypatch.setattr(signin, "utcnow", lambda: eve.locked_until + timedelta(seconds=1))
    at = sign_in(app(), "eve", PASSWORD)
    assert not at.error and at.session_state["user"].username == "eve"


def test_empty_fields_are_refused_without_touching_the_store(engine):
    at = app()
    at.button[0].click()
    at.run()
    assert texts(at.error) == ["Enter your username and password."]


def test_signing_out_clears_the_session_and_returns_to_the_sign_in_screen(engine):
    add_users(engine)
    at = sign_in(app(), "ada", PASSWORD)
    at.session_state["something_else"] = 42
    at.sidebar.button[0].click()
    at.run()
    assert not at.exception
    assert "user" not in at.session_state and "something_else" not in at.session_state
    assert [b.label for b in at.button] == ["Sign in"]
    assert not at.metric


def test_a_store_without_tables_is_reported_not_a_traceback(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/empty.db")
    at = sign_in(app(), "eve", PASSWORD)
    assert not at.exception
    (message,) = texts(at.error)
    assert "python -m core init" in message

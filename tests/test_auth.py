"""Users, password hashing, sign-in and lock-out."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from core import auth
from core.accounts import AuthError
from core.accounts.signin import authenticate
from core.accounts.users import create_user
from core.store.db import session_scope
from core.store.models import AuditEvent, User, utcnow


def add_user(engine, username="ada", role="expert", password="correct horse"):
    with session_scope(engine, write=True) as s:
        return create_user(s, username=username, role=role, password=password)


def sign_in(engine, username="ada", password="correct horse", now=None):
    with session_scope(engine, write=True) as s:
        try:
            return authenticate(s, username=username, password=password, now=now)
        except AuthError as error:
            return error


def test_passwords_are_stored_as_argon2_hashes_never_in_clear(any_engine):
    add_user(any_engine)
    with session_scope(any_engine) as s:
        user = s.execute(select(User)).scalar_one()
        event = s.execute(select(AuditEvent)).scalar_one()
    assert user.password_hash.startswith("$argon2")
    assert "correct horse" not in user.password_hash
    assert "correct horse" not in str(event.after)
    assert event.action == "user.create"


def test_right_password_signs_in_and_wrong_one_is_refused(any_engine):
    add_user(any_engine)
    assert sign_in(any_engine) == auth.UserPublic(1, "ada", "ada", "expert", True)
    assert str(sign_in(any_engine, password="wrong")) == "Wrong username or password."
    assert str(sign_in(any_engine, username="nobody")) == "Wrong username or password."


def test_five_failures_in_a_row_lock_the_account_for_a_few_minutes(engine):
    add_user(engine)
    now = utcnow()
    for _ in range(4):
        assert str(sign_in(engine, password="wrong", now=now)) == "Wrong username or password."
    assert "locked for 5 minutes" in str(sign_in(engine, password="wrong", now=now))
    assert "locked for about 5 more minute" in str(sign_in(engine, now=now + timedelta(seconds=10)))
    assert isinstance(sign_in(engine, now=now + timedelta(minutes=6)), auth.UserPublic)
    with session_scope(engine) as s:
        assert s.execute(select(AuditEvent.action).where(AuditEvent.action == "user.lock")).scalar_one()


def test_a_success_resets_the_failure_count(engine):
    add_user(engine)
    for _ in range(4):
        sign_in(engine, password="wrong")
    assert isinstance(sign_in(engine), auth.UserPublic)
    for _ in range(4):
        sign_in(engine, password="wrong")
    assert isinstance(sign_in(engine), auth.UserPublic)


def test_inactive_users_cannot_sign_in(engine):
    add_user(engine)
    with session_scope(engine, write=True) as s:
        s.execute(select(User)).scalar_one().active = False
    assert "inactive" in str(sign_in(engine))


@pytest.mark.parametrize(
    ("username", "role", "password", "message"),
    [
        ("ada", "boss", "long enough", "role 'boss' is not one of"),
        ("ada", "expert", "short", "at least 8 characters"),
        ("has space", "expert", "long enough", "username 'has space'"),
    ],
)
def test_bad_user_input_is_refused_and_writes_nothing(engine, username, role, password, message):
    with pytest.raises(AuthError, match=message), session_scope(engine, write=True) as s:
        create_user(s, username=username, role=role, password=password)
    with session_scope(engine) as s:
        assert s.execute(select(User)).first() is None


def test_a_placeholder_user_from_an_import_can_be_activated_once(engine):
    with session_scope(engine, write=True) as s:
        s.add(User(username="ann", role="annotator", active=False))
    user = add_user(engine, username="ann", role="annotator")
    assert user.active
    with pytest.raises(AuthError, match="exists already"):
        add_user(engine, username="ann", role="annotator")


def test_each_role_opens_its_own_pages_only():
    audit_pages = ["audit", "agreement", "audit_sample", "flags"]
    assert auth.pages_for("admin") == [
        "home", "rate", "compare", "moderation", "adjudicate", "data", "queues", "ab_report", "reward_model", "kpi",
        *audit_pages,
    ]  # fmt: skip
    assert auth.pages_for("expert") == ["home", "rate", "compare", "moderation", "adjudicate", *audit_pages]
    assert auth.pages_for("annotator") == ["home", "moderation"]
    assert auth.pages_for("product_owner") == ["home", "ab_report", "kpi"]
    for role in ("expert", "annotator", "product_owner"):
        assert not any(auth.can_open(role, page) for page in ("data", "queues", "reward_model"))
    assert not auth.can_open("admin", "no-such-page")

"""Sign-in sessions: a one-time code traded for a token, only hashes in the store, and every way a session ends
(sign-out, idle, lock-out, deactivation), each audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from core.accounts import AuthError, sessions
from core.accounts import service as accounts
from core.cli.main import main
from core.store.db import session_scope
from core.store.models import AuditEvent, UserSession, utcnow
from tests.app_helpers import PASSWORD, add_users


@pytest.fixture
def users(any_engine):
    return add_users(any_engine)


def signed_in(engine, username: str = "eve") -> str:
    handoff = accounts.sign_in(username=username, password=PASSWORD, engine=engine).handoff
    return accounts.redeem_handoff(handoff=handoff, engine=engine)


def events(engine, action: str) -> list[AuditEvent]:
    with session_scope(engine) as s:
        return s.execute(select(AuditEvent).where(AuditEvent.action == action)).scalars().all()


def rows(engine) -> list[UserSession]:
    with session_scope(engine) as s:
        return s.execute(select(UserSession).order_by(UserSession.id)).scalars().all()


def test_a_sign_in_hands_over_a_token_once_that_finds_its_user(any_engine, users):
    signed = accounts.sign_in(username="eve", password=PASSWORD, engine=any_engine)
    assert signed.user == users["expert"]
    token = accounts.redeem_handoff(handoff=signed.handoff, engine=any_engine)
    assert token and token != signed.handoff
    assert accounts.session_user(token=token, engine=any_engine) == users["expert"]
    assert accounts.redeem_handoff(handoff=signed.handoff, engine=any_engine) is None  # a code works once
    assert accounts.session_user(token="not-a-token", engine=any_engine) is None
    [created] = events(any_engine, "session.create")
    assert (created.actor_id, created.entity, created.entity_id) == (
        users["expert"].id,
        "user_session",
        rows(any_engine)[0].id,
    )


def test_the_store_keeps_only_hashes_of_the_token_and_the_code(any_engine, users):
    signed = accounts.sign_in(username="eve", password=PASSWORD, engine=any_engine)
    token = accounts.redeem_handoff(handoff=signed.handoff, engine=any_engine)
    [row] = rows(any_engine)
    stored = " ".join(str(value) for value in row.model_dump().values())
    stored += " ".join(str((e.before, e.after)) for e in events(any_engine, "session.create"))
    assert token not in stored and signed.handoff not in stored
    assert len(row.token_hash) == 64 and row.handoff_hash is None


def test_an_old_code_is_refused(any_engine, users):
    with session_scope(any_engine, write=True) as s:
        handoff = sessions.start(s, users["expert"].id, now=utcnow() - timedelta(minutes=2))
    assert accounts.redeem_handoff(handoff=handoff, engine=any_engine) is None


def test_signing_out_ends_the_session_with_an_audit_event(any_engine, users):
    token = signed_in(any_engine)
    accounts.sign_out(token=token, engine=any_engine)
    assert accounts.session_user(token=token, engine=any_engine) is None
    [row] = rows(any_engine)
    assert row.ended_at is not None and row.end_reason == "sign-out"
    [ended] = events(any_engine, "session.end")
    assert ended.after == {"reason": "sign-out"} and ended.entity_id == row.id


def test_a_session_idle_too_long_ends(any_engine, users, monkeypatch):
    monkeypatch.setenv("SESSION_IDLE_MINUTES", "30")
    token = signed_in(any_engine)
    with session_scope(any_engine, write=True) as s:
        assert sessions.user_of(s, token, now=utcnow() + timedelta(minutes=29)) == users["expert"]
    with session_scope(any_engine, write=True) as s:  # 29 minutes on, it was used: idle counts from then
        assert sessions.user_of(s, token, now=utcnow() + timedelta(minutes=58)) == users["expert"]
    with session_scope(any_engine, write=True) as s:
        assert sessions.user_of(s, token, now=utcnow() + timedelta(minutes=89)) is None
    assert rows(any_engine)[0].end_reason == "idle"
    assert [e.after for e in events(any_engine, "session.end")] == [{"reason": "idle"}]
    assert accounts.session_user(token=token, engine=any_engine) is None


def test_use_is_written_at_most_once_a_minute(any_engine, users):
    token = signed_in(any_engine)
    seen = rows(any_engine)[0].last_seen_at
    assert accounts.session_user(token=token, engine=any_engine) is not None
    assert rows(any_engine)[0].last_seen_at == seen
    with session_scope(any_engine, write=True) as s:
        sessions.user_of(s, token, now=seen + timedelta(seconds=61))
    assert rows(any_engine)[0].last_seen_at == seen + timedelta(seconds=61)


def test_a_lock_out_ends_the_accounts_sessions(any_engine, users):
    token = signed_in(any_engine)
    for _ in range(5):
        with pytest.raises(AuthError):
            accounts.sign_in(username="eve", password="wrong-password", engine=any_engine)
    assert accounts.session_user(token=token, engine=any_engine) is None
    assert [e.after for e in events(any_engine, "session.end")] == [{"reason": "locked"}]


def test_deactivating_a_user_ends_their_sessions_and_is_audited(any_engine, users):
    token = signed_in(any_engine, "ann")
    user = accounts.deactivate_user(actor=users["admin"], username="ann", engine=any_engine)
    assert not user.active
    assert accounts.session_user(token=token, engine=any_engine) is None
    [event] = events(any_engine, "user.deactivate")
    assert (event.actor_id, event.before, event.after) == (users["admin"].id, {"active": True}, {"active": False})
    assert [e.after for e in events(any_engine, "session.end")] == [{"reason": "deactivated"}]
    with pytest.raises(AuthError, match="This account is inactive"):
        accounts.sign_in(username="ann", password=PASSWORD, engine=any_engine)


def test_the_only_active_admin_and_unknown_users_are_not_deactivated(any_engine, users):
    with pytest.raises(AuthError, match="'ada' is the only active admin: add another admin first"):
        accounts.deactivate_user(actor=users["admin"], username="ada", engine=any_engine)
    with pytest.raises(AuthError, match="'nobody': no such user"):
        accounts.deactivate_user(actor=users["admin"], username="nobody", engine=any_engine)
    assert events(any_engine, "user.deactivate") == []


def test_the_command_deactivates_a_user(any_engine, users, capsys):
    assert main(["users", "deactivate", "pat", "--as", "ada"]) == 0
    assert "user pat is inactive; their sign-in sessions have ended" in capsys.readouterr().out
    assert main(["users", "deactivate", "pat", "--as", "ada"]) == 1
    assert "user 'pat' is inactive already" in capsys.readouterr().err

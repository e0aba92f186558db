"""Single sign-on through OpenID Connect: roles mapped from a claim, users created or linked, and the sign-in screen
with st.login configured or not (st.user is faked: no identity provider is reachable here)."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from core.accounts import AuthError
from core.accounts.signin import parse_role_map, role_from_claims, sign_in_external
from core.accounts.users import create_user
from core.store.db import session_scope
from core.store.models import AuditEvent, User
from tests.app_helpers import APP, TIMEOUT, add_users, fresh_streamlit_cache, texts  # noqa: F401

ROLE_MAP = "wb-admins=admin,wb-experts=expert,wb-annotators=annotator,wb-product=product_owner"
ISSUER = "https://login.example.org"
AUTH_SECRETS = {
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "cookie_secret": "test-cookie-secret",
    "client_id": "workbench",
    "client_secret": "test-client-secret",
    "server_metadata_url": f"{ISSUER}/.well-known/openid-configuration",
}


@pytest.fixture(autouse=True)
def role_map(monkeypatch):
    monkeypatch.setenv("OIDC_ROLE_MAP", ROLE_MAP)
    monkeypatch.delenv("OIDC_ROLE_CLAIM", raising=False)


def claims(sub="u-17", groups=("staff", "wb-experts"), **more) -> dict:
    return {"iss": ISSUER, "sub": sub, "email": "rosa@example.org", "name": "Rosa Diaz", "groups": list(groups)} | more


def test_the_role_map_is_parsed_in_order_and_a_bad_entry_names_the_setting():
    assert parse_role_map(" wb-admins = admin ,wb-experts=expert,") == [
        ("wb-admins", "admin"),
        ("wb-experts", "expert"),
    ]
    assert parse_role_map("") == []
    with pytest.raises(AuthError, match="OIDC_ROLE_MAP entry 'wb-boss=boss'"):
        parse_role_map("wb-admins=admin,wb-boss=boss")


@pytest.mark.parametrize(
    ("claim_value", "role"),
    [
        (["staff", "wb-experts"], "expert"),
        (["wb-experts", "wb-admins"], "admin"),  # the first pair of the map that matches wins
        ("wb-annotators, staff", "annotator"),  # a string of values
        ("wb-product", "product_owner"),
        (["staff"], None),
        ([], None),
        (None, None),
    ],
)
def test_the_role_comes_from_the_claim(claim_value, role):
    assert role_from_claims({"groups": claim_value}, "groups", parse_role_map(ROLE_MAP)) == role


def _external(engine, **claim):
    with session_scope(engine, write=True) as s:
        return sign_in_external(s, claims=claims(**claim))


def _events(engine) -> list[tuple[str, dict | None]]:
    with session_scope(engine) as s:
        return [(e.action, e.after) for e in s.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars()]


def test_the_first_sign_in_creates_the_user_with_the_mapped_role_and_later_ones_follow_the_provider(engine):
    user = _external(engine)
    assert (user.username, user.display_name, user.role, user.active) == (
        "rosa@example.org",
        "Rosa Diaz",
        "expert",
        True,
    )
    assert _external(engine) == user  # signing in again changes nothing
    promoted = _external(engine, groups=["wb-admins"])
    assert promoted.id == user.id and promoted.role == "admin"
    external = f"{ISSUER}|u-17"
    assert _events(engine) == [
        ("user.create", {"username": "rosa@example.org", "role": "expert", "active": True, "external": external}),
        ("user.role", {"username": "rosa@example.org", "role": "admin", "active": True, "external": external}),
    ]
    with session_scope(engine) as s:
        assert s.execute(select(User.password_hash)).scalar_one() is None


def test_an_existing_user_with_the_same_email_is_linked_not_duplicated(engine):
    with session_scope(engine, write=True) as s:
        create_user(s, username="rosa", role="annotator", password="long enough", email="Rosa@Example.org")
    user = _external(engine, preferred_username="rdiaz")
    assert (user.id, user.username, user.role) == (1, "rosa", "expert")
    assert [action for action, _ in _events(engine)] == ["user.create", "user.link"]


def test_an_unmapped_identity_is_refused_and_nothing_is_written(engine):
    with pytest.raises(AuthError, match="no role in this workbench"):
        _external(engine, groups=["staff"])
    with session_scope(engine) as s:
        assert s.execute(select(User)).first() is None
    assert _events(engine) == []


def test_an_account_an_admin_deactivated_stays_out(engine):
    with session_scope(engine, write=True) as s:
        create_user(s, username="rosa", role="expert", password="long enough", email="rosa@example.org")
        s.execute(select(User)).scalar_one().active = False
    with pytest.raises(AuthError, match="inactive"):
        _external(engine)
    with session_scope(engine, write=True) as s:  # the same once linked: deactivation outlasts the provider's groups
        user = s.execute(select(User)).scalar_one()
        user.active, user.password_hash, user.external_id = False, None, f"{ISSUER}|u-17"
    with pytest.raises(AuthError, match="inactive"):
        _external(engine)


def test_a_placeholder_reviewer_from_an_import_is_activated_by_the_first_sign_in(engine):
    with session_scope(engine, write=True) as s:
        s.add(User(username="rosa@example.org", role="annotator", active=False))
    user = _external(engine)
    assert (user.id, user.role, user.active) == (1, "expert", True)
    assert [action for action, _ in _events(engine)] == ["user.link"]


def sso_app(user: dict | None = None, configured: bool = True) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    if configured:
        at.secrets["auth"] = AUTH_SECRETS
    if user is not None:
        at.user = user
    return at.run()


def test_without_an_auth_section_the_password_form_is_the_only_sign_in(engine):
    at = sso_app(configured=False)
    assert not at.exception
    assert [b.label for b in at.button] == ["Sign in"]
    assert [t.label for t in at.text_input] == ["Username", "Password"]


def test_with_an_auth_section_single_sign_on_is_offered_beside_the_password_form(engine):
    at = sso_app({"is_logged_in": False})
    assert not at.exception
    assert [b.label for b in at.button] == ["Sign in with single sign-on", "Sign in"]
    assert [t.label for t in at.text_input] == ["Username", "Password"]


def test_a_signed_in_identity_with_a_mapped_group_lands_on_its_home_page(engine):
    at = sso_app({"is_logged_in": True, **claims()})
    assert not at.exception and not at.error, texts(at.error)
    assert at.title[0].value == "Welcome, Rosa Diaz"
    assert at.session_state["user"].role == "expert"
    assert [action for action, _ in _events(engine)] == ["user.create", "session.create"]


def test_a_signed_in_identity_without_a_mapped_group_is_refused_with_a_way_out(engine):
    add_users(engine)
    at = sso_app({"is_logged_in": True, **claims(groups=["staff"])})
    assert not at.exception
    (message,) = texts(at.error)
    assert message.startswith("Your account has no role in this workbench")
    assert "user" not in at.session_state
    assert [b.label for b in at.button] == ["Sign out of single sign-on", "Sign in"]
    at.button[0].click().run()
    assert not at.exception and not at.error, (texts(at.error), at.user)
    assert [b.label for b in at.button] == ["Sign in with single sign-on", "Sign in"]
    with session_scope(engine) as s:
        assert s.execute(select(User).where(User.external_id.is_not(None))).first() is None


def test_signing_out_also_leaves_the_identity_provider(engine):
    at = sso_app({"is_logged_in": True, **claims()})
    at.sidebar.button[0].click().run()
    assert not at.exception
    assert at.user == {"is_logged_in": False} and "user" not in at.session_state
    assert [b.label for b in at.button] == ["Sign in with single sign-on", "Sign in"]

"""Navigation by role: each role is offered exactly its pages, and a page of another role refuses to open."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from app.navigation import PAGES, page_keys
from app.session import NO_ACCESS
from core.auth import PAGE_ROLES, UserPublic, can_open
from core.models import ROLES
from tests.app_helpers import REPO_ROOT, TIMEOUT, add_users, app, fresh_streamlit_cache, page, texts  # noqa: F401


def test_every_registered_page_is_gated_by_a_role_and_has_its_file():
    assert set(PAGES) <= set(PAGE_ROLES)
    for spec in PAGES.values():
        assert (REPO_ROOT / "app" / spec.path).resolve().is_file()


def test_the_data_page_is_for_admins_only_and_home_for_everyone():
    assert [role for role in ROLES if "data" in page_keys(role)] == ["admin"]
    assert all(page_keys(role)[0] == "home" for role in ROLES)


@pytest.mark.parametrize("role", ROLES)
def test_each_role_is_offered_exactly_the_pages_its_role_may_open(engine, role):
    """What st.navigation registered (AppTest can switch only to those) is what core.auth grants the role."""
    users = add_users(engine)
    at = app(users[role])
    assert not at.exception
    for key in PAGES:
        if can_open(role, key):
            at.switch_page(page(key)).run()
            assert not at.exception and NO_ACCESS not in texts(at.error), key
        else:
            with pytest.raises(ValueError, match="Could not find a navigation page"):
                at.switch_page(page(key))


@pytest.mark.parametrize("role", ROLES)
def test_each_role_lands_on_its_own_home_page(engine, role):
    users = add_users(engine)
    at = app(users[role])
    assert at.title[0].value == f"Welcome, {users[role].display_name}"
    assert len(at.metric) >= 2


def _direct(page_key: str, user: UserPublic | None) -> AppTest:
    """The page's own script run without the router, as if reached by a link that skips the navigation."""
    at = AppTest.from_file(str(REPO_ROOT / "pages" / f"{page_key}.py"), default_timeout=TIMEOUT)
    if user is not None:
        at.session_state["user"] = user
    return at.run()


@pytest.mark.parametrize(
    ("page_key", "role"), [(key, role) for key in PAGES for role in ROLES if role not in PAGE_ROLES[key]]
)
def test_a_page_of_another_role_reached_directly_is_refused(engine, page_key, role):
    users = add_users(engine)
    at = _direct(page_key, users[role])
    assert not at.exception
    assert texts(at.error) == [NO_ACCESS]
    assert not at.metric and not at.file_uploader and not at.dataframe


@pytest.mark.parametrize("page_key", list(PAGES))
def test_a_page_reached_without_signing_in_is_refused(engine, page_key):
    at = _direct(page_key, None)
    assert texts(at.error) == [NO_ACCESS]
    assert not at.metric and not at.file_uploader


def test_a_page_reached_directly_by_its_role_opens(engine):
    users = add_users(engine)
    at = _direct("data", users["admin"])
    assert not at.exception and not at.error
    assert at.title[0].value == "Data"

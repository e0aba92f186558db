"""Who may open which page: every page for every role and for a signed-out visitor, checked on the rendered page."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from app.navigation import PAGES, SECTIONS, sections_for
from app.session import NO_ACCESS
from core.auth import PAGE_ACTIONS, UserPublic, can_open
from core.store.models import ROLES
from tests.app_helpers import REPO_ROOT, TIMEOUT, add_users, app, fresh_streamlit_cache, page, texts  # noqa: F401

# Each page's own heading: what shows that the page itself rendered, not the gate.
HEADINGS = {
    "home": "Welcome, {name}",
    "rate": "Rate answers",
    "compare": "Compare answers",
    "moderation": "Label moderation items",
    "adjudicate": "Adjudicate disagreements",
    "data": "Data",
    "queues": "Review queues",
    "ab_report": "A/B reports",
    "reward_model": "Reward model",
    "kpi": "KPIs",
    "audit": "Audit trail",
    "agreement": "Agreement",
    "audit_sample": "Audit sample",
    "flags": "Flags",
}
# Written by hand, not derived from core.auth.PAGE_ACTIONS: if the source of truth drifts on a key cell, the matrix
# fails.
KEY_CELLS = {
    ("admin", "data"): True,
    ("admin", "audit"): True,
    ("expert", "rate"): True,
    ("expert", "data"): False,
    ("expert", "kpi"): False,
    ("lead", "flags"): True,
    ("lead", "adjudicate"): True,
    ("lead", "queues"): True,  # named assignment and progress; the settings on it stay admin-only
    ("lead", "data"): False,
    ("annotator", "moderation"): True,
    ("annotator", "rate"): False,
    ("annotator", "audit"): False,
    ("product_owner", "kpi"): True,
    ("product_owner", "moderation"): False,
    ("product_owner", "reward_model"): False,
    (None, "home"): False,
    (None, "data"): False,
}
VISITORS = [*ROLES, None]  # None: signed out


def test_every_registered_page_is_gated_by_a_role_and_has_its_file():
    assert set(PAGES) == set(PAGE_ACTIONS) == set(HEADINGS)
    assert sorted(["home", *(key for keys in SECTIONS.values() for key in keys)]) == sorted(PAGES)
    for spec in PAGES.values():
        assert (REPO_ROOT / "app" / spec.path).resolve().is_file()


def _direct(page_key: str, user: UserPublic | None) -> AppTest:
    """The page's own script run without the router, as if reached by a link that skips the navigation."""
    at = AppTest.from_file(str(REPO_ROOT / "pages" / f"{page_key}.py"), default_timeout=TIMEOUT)
    if user is not None:
        at.session_state["user"] = user
    return at.run()


def _assert_opened(at: AppTest, key: str, user: UserPublic) -> None:
    assert not at.exception, key
    assert NO_ACCESS not in texts(at.error), key
    assert at.title[0].value == HEADINGS[key].format(name=user.display_name), key


def _assert_refused(at: AppTest, key: str) -> None:
    assert not at.exception, key
    assert texts(at.error) == [NO_ACCESS], key
    assert not at.title and not at.metric and not at.dataframe and not at.file_uploader and not at.button, key


@pytest.mark.parametrize("role", VISITORS, ids=[str(role) for role in VISITORS])
def test_each_visitor_opens_exactly_the_pages_its_role_may_open(engine, role):
    """One row of the matrix (pages x roles and a signed-out visitor): allowed pages are linked in the sidebar, open
    and show their own heading; every other page is unlisted and, reached by a link, says so (signed out: the sign-in
    form); its own script refuses too."""
    for (cell_role, key), allowed in KEY_CELLS.items():
        assert (cell_role is not None and can_open(cell_role, key)) == allowed, (cell_role, key)
    user = add_users(engine).get(role)
    at = app(user)
    assert not at.exception
    linked = [link.proto.label for link in at.get("page_link")]
    in_order = ["home", *(key for keys in SECTIONS.values() for key in keys)]  # Home, then section by section
    assert linked == [PAGES[key].title for key in in_order if role is not None and can_open(role, key)]
    if role is not None:
        assert [key for _, keys in sections_for(role) for key in keys] == [k for k in in_order if can_open(role, k)]
    for key in PAGES:
        at.switch_page(page(key)).run()
        if user is None:  # any page asked for: the sign-in form, then that page
            assert [t.label for t in at.text_input] == ["Username", "Password"], key
            assert not set(texts(at.title)) & set(HEADINGS.values()), key
        elif can_open(role, key):
            _assert_opened(at, key, user)
        else:
            assert texts(at.error) == [NO_ACCESS], key
        if user is None or not can_open(role, key):
            _assert_refused(_direct(key, user), key)

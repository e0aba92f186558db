"""A sign-in that survives a reload, in a real browser: every review page keeps the person signed in and on that page;
a link to a page works for every role (signed out: the sign-in form, then that page); after signing out the back
button shows nothing of the signed-in pages; an idle session ends."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import update

from core.store.db import dispose_engines, get_engine, session_scope, upgrade_schema
from core.store.models import UserSession, utcnow
from tests.app_helpers import PASSWORD, add_users
from tests.live_app import running_app, signed_in, wait_until_idle

pytestmark = pytest.mark.browser
REVIEW_PAGES = {
    "/rate": "Rate answers",
    "/compare": "Compare answers",
    "/moderation": "Label moderation items",
    "/adjudicate": "Adjudicate disagreements",
}
# A page each role may open, reached by a link while signed out, and its heading.
LINKS = {
    "ada": ("/data", "Data"),
    "eve": ("/audit", "Audit trail"),
    "ann": ("/moderation", "Label moderation items"),
    "pat": ("/kpi", "KPIs"),
}


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('sessions') / 'store.db'}"
    engine = get_engine(url)
    upgrade_schema(engine)
    add_users(engine)
    dispose_engines()
    with running_app(url) as base_url:
        yield url, base_url


def heading(page) -> str:
    page.locator("h1").first.wait_for(timeout=30_000)
    wait_until_idle(page)
    return page.locator("h1").first.inner_text()


def signed_in_at(page, base_url: str, path: str, username: str) -> None:
    """Open a page by its address while signed out, sign in on the form shown there."""
    page.goto(f"{base_url}{path}")
    page.get_by_role("textbox", name="Username").fill(username)
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    signed_in(page)


def test_a_reload_keeps_the_reviewer_signed_in_on_each_review_page(app_url, page):
    _, base_url = app_url
    signed_in_at(page, base_url, "/rate", "eve")
    for path, title in REVIEW_PAGES.items():
        page.goto(f"{base_url}{path}")
        assert heading(page) == title
        page.reload()
        assert heading(page) == title, path
        assert page.url == f"{base_url}{path}"
        assert page.get_by_role("textbox", name="Password").count() == 0
    cookie = next(c for c in page.context.cookies() if c["name"] == "wb_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"


@pytest.mark.parametrize("username", sorted(LINKS))
def test_a_link_to_a_page_lands_there_after_signing_in(app_url, page, username):
    _, base_url = app_url
    path, title = LINKS[username]
    signed_in_at(page, base_url, path, username)
    assert heading(page) == title and page.url == f"{base_url}{path}"
    second = page.context.new_page()  # a second tab of the same browser: still signed in
    second.goto(f"{base_url}{path}")
    assert heading(second) == title


def test_a_page_the_role_may_not_open_says_so(app_url, page):
    _, base_url = app_url
    signed_in_at(page, base_url, "/kpi", "ann")
    page.get_by_text("You do not have access to this page.").wait_for()
    assert page.get_by_text("Page not found").count() == 0


def test_after_signing_out_the_back_button_shows_nothing_of_the_signed_in_pages(app_url, page):
    _, base_url = app_url
    signed_in_at(page, base_url, "/rate", "eve")
    assert heading(page) == "Rate answers"
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("textbox", name="Username").wait_for(timeout=30_000)
    assert not [c for c in page.context.cookies() if c["name"] == "wb_session"]
    page.go_back()
    page.get_by_role("textbox", name="Username").wait_for(timeout=30_000)
    wait_until_idle(page)
    assert (
        page.get_by_role("heading", name="Rate answers").count() == 0
        and page.get_by_role("button", name="Sign out").count() == 0
    )


def test_an_idle_session_ends(app_url, page):
    url, base_url = app_url
    signed_in_at(page, base_url, "/rate", "eve")
    assert heading(page) == "Rate answers"
    with session_scope(get_engine(url), write=True) as s:  # as if the last use were nine hours ago (idle: 8 h)
        s.execute(update(UserSession).values(last_seen_at=utcnow() - timedelta(hours=9)))
    page.reload()
    page.get_by_role("textbox", name="Username").wait_for(timeout=30_000)
    assert page.get_by_role("button", name="Sign out").count() == 0

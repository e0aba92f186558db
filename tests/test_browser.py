"""The whole app in a real browser: sign in and see the home page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.navigation import PAGES, sections_for
from core.accounts.users import create_user
from core.store.db import dispose_engines, get_engine, session_scope, upgrade_schema
from tests.live_app import open_page, running_app, sign_in, submit_sign_in, wait_until_idle

pytestmark = pytest.mark.browser
PASSWORD = "browser-pass"


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = f"sqlite:///{tmp_path_factory.mktemp('browser') / 'store.db'}"
    engine = get_engine(url)
    upgrade_schema(engine)
    with session_scope(engine, write=True) as session:
        create_user(session, username="eva", role="expert", password=PASSWORD, display_name="Eva Berger")
        create_user(session, username="alex", role="admin", password=PASSWORD, display_name="Alex Admin")
    dispose_engines()
    with running_app(url) as base:
        yield base


def test_an_expert_signs_in_and_sees_the_home_page(base_url, page):
    sign_in(page, base_url, "eva", PASSWORD)
    assert page.get_by_role("heading", name="Welcome, Eva Berger").is_visible()
    assert page.get_by_text("Answers to rate").is_visible()
    assert page.get_by_text("Expert reviewer").is_visible()
    links = page.locator('[data-testid="stPageLink-NavLink"]').all_inner_texts()
    titles = [PAGES[key].title for _, keys in sections_for("expert") for key in keys]
    # each link reads "<icon name>\n\n<title>"
    assert [link.split("\n")[-1] for link in links] == titles
    assert titles[:3] == ["Home", "Rate answers", "Compare answers"] and "Data" not in titles
    assert page.get_by_text("Oversight").is_visible() and page.get_by_text("Admin").count() == 0


def test_a_wrong_password_is_refused_in_the_browser(base_url, page):
    submit_sign_in(page, base_url, "eva", "wrong-password")
    page.get_by_text("Wrong username or password.").wait_for()
    assert page.get_by_role("button", name="Sign out").count() == 0


def test_an_admin_uploads_a_bad_file_sees_why_it_was_refused_and_signs_out(base_url, page, tmp_path: Path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt_id": "p1", "prompt": "Hi?", "responses": [{"response_id": "r1", "model": "m"}]}\n')
    sign_in(page, base_url, "alex", PASSWORD)
    open_page(page, "Data")
    page.locator('input[type="file"]').set_input_files(str(bad))
    page.get_by_text("bad.jsonl").first.wait_for()
    wait_until_idle(page)
    page.get_by_role("button", name="Import").click()
    page.get_by_text("Refused: nothing was imported.").wait_for()
    assert page.get_by_text("line 1, field responses.0.text: Field required").is_visible()
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("button", name="Sign in").wait_for()

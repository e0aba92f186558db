"""Hostile texts in a real browser: an imported answer holding a script, an image with an onerror handler, a
100,000-character line and right-to-left overrides shows as text on the Rate page; nothing runs and nothing widens
the page."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from core.accounts.users import create_user
from core.ingest import import_file
from core.review import settings
from core.store.db import dispose_engines, get_engine, session_scope, upgrade_schema
from tests.live_app import open_page, running_app, sign_in

pytestmark = pytest.mark.browser
PASSWORD = "hostile-pass"
SCRIPT = "<script>window.__pwned = 1; alert('pwned')</script>"
IMAGE = '<img src=x onerror="window.__pwned = 2; alert(2)">'
LONG = "W" * 100_000
RTL = "\u202eevil.exe \u0645\u0631\u062d\u0628\u0627 \u05e9\u05dc\u05d5\u05dd"
ANSWER = f"{SCRIPT}{IMAGE}\n\n{LONG}\n\n{RTL}"
PROMPT = "<b>not bold</b> Is this safe? \u202eoverride"


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("hostile-browser")
    url = f"sqlite:///{folder / 'store.db'}"
    engine = get_engine(url)
    upgrade_schema(engine)
    row = {"prompt_id": "p1", "prompt": PROMPT, "responses": [{"response_id": "r1", "model": "m1", "text": ANSWER}]}
    (folder / "hostile.jsonl").write_text(json.dumps(row) + "\n", encoding="utf-8")
    import_file(folder / "hostile.jsonl", "conversations", engine=engine)
    with session_scope(engine, write=True) as s:
        create_user(s, username="expert0", role="expert", password=PASSWORD)
        settings.configure(s, queue="rating", actor_id=None, versions=["m1"], k=1)
    dispose_engines()
    with running_app(url) as base:
        yield base


def test_an_answer_with_script_html_a_long_line_and_rtl_text_shows_as_text(base_url, page):
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    sign_in(page, base_url, "expert0", PASSWORD)
    open_page(page, "Rate answers")
    assert page.evaluate("typeof window.__pwned") == "undefined" and dialogs == []
    assert page.get_by_text(SCRIPT + IMAGE).is_visible()
    assert page.get_by_text("<b>not bold</b>", exact=False).is_visible()
    assert page.locator("main b", has_text="not bold").count() == 0  # the tag was not made bold
    answer = page.locator(".wb-spantext", has_text="WWWW")  # the answer's exact text, where spans are marked
    assert LONG in answer.inner_text().replace("\n", "") and RTL in answer.inner_text()
    # the 100,000-character line wraps inside the answer's box: neither the box nor the page grows sideways
    box = answer.bounding_box()
    width = page.evaluate("window.innerWidth")
    assert box is not None and box["x"] + box["width"] <= width
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert answer.evaluate("e => e.scrollWidth <= e.clientWidth + 1")

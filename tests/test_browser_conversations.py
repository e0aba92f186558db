"""A conversation in a real browser: the turns before the question shown in order above the answer, on one screen at
1280x800, and the answer rated by keyboard."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from core.ingest import import_file
from core.store.db import dispose_engines, get_engine, session_scope, upgrade_schema
from core.store.models import Rating
from tests.live_app import open_page, running_app, sign_in, wait_until_idle
from tests.review_store import PASSWORD, build
from tests.test_conversations import QUESTION, TURNS, conversation_row

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, int], str]]:
    folder = tmp_path_factory.mktemp("conversation-browser")
    url = f"sqlite:///{folder / 'store.db'}"
    engine = get_engine(url)
    upgrade_schema(engine)
    path = folder / "c.jsonl"
    path.write_text(json.dumps(conversation_row(), ensure_ascii=False) + "\n", encoding="utf-8")
    import_file(path, "conversations", engine=engine)
    users = build(engine, folder, prompts=0, experts=1)
    dispose_engines()
    with running_app(url) as base_url:
        yield url, users, base_url


def test_the_conversation_is_shown_in_order_and_its_answer_rated_by_keyboard(store, page):
    url, _, base_url = store
    page.set_viewport_size({"width": 1280, "height": 800})
    sign_in(page, base_url, "expert0", PASSWORD)
    open_page(page, "Rate answers")
    messages = page.locator('[data-testid="stChatMessage"]')
    messages.last.wait_for()
    page.get_by_text("2 earlier turns of the conversation").click()  # unfold the oldest two
    wait_until_idle(page)
    texts = messages.locator('[data-testid="stMarkdownContainer"]')  # not the avatars' icon names
    assert [m.inner_text().strip() for m in texts.all()] == [t["text"] for t in TURNS] + [QUESTION]
    answer = page.locator(".st-key-wb-answer")
    submit = page.get_by_role("button", name="Submit (Enter)")
    assert answer.is_visible() and submit.bounding_box()["y"] + submit.bounding_box()["height"] <= 800
    if shots := os.environ.get("CONVERSATION_SHOT"):  # to look at the page: a path for the screenshot
        page.screenshot(path=shots)
    for key in ("4", "5", "3", "Enter"):  # straight after unfolding the turns by mouse
        page.keyboard.press(key)
        page.wait_for_timeout(60)
    page.get_by_text("Saved.").wait_for()
    with session_scope(get_engine(url)) as s:
        stored = s.execute(select(Rating.helpfulness, Rating.harmlessness, Rating.accuracy)).all()
    assert len(stored) == 1 and tuple(stored[0]) == (4, 5, 3)

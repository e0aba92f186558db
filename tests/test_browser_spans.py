"""Error spans in a real browser: a stretch of the answer selected after an emoji (two UTF-16 units, one code point)
and marked by keyboard, and another by mouse with a note, are stored with code-point offsets; an overlapping span of
the same flag is refused on the page with the reason; the page stays on one screen at 1280x800."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from core.ingest import import_file
from core.store.db import dispose_engines, get_engine, session_scope, upgrade_schema
from core.store.models import AuditEvent, Rating
from tests.live_app import open_page, running_app, sign_in, wait_until_idle
from tests.review_store import PASSWORD, build

pytestmark = pytest.mark.browser

ANSWER = "Hi 👋 שלום! The deadline is 31 May. Keep your receipts."
WRONG = "31 May"
KEEP = "Keep your receipts"

SELECT = """([stretch, skip]) => {
  const box = document.querySelector(".wb-spantext");
  const walker = document.createTreeWalker(box, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const at = node.data.indexOf(stretch);
    if (at < 0) continue;
    const range = document.createRange();
    range.setStart(node, at + skip);
    range.setEnd(node, at + stretch.length);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    return at;
  }
  return -1;
}"""


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    folder = tmp_path_factory.mktemp("spans-browser")
    url = f"sqlite:///{folder / 'store.db'}"
    engine = get_engine(url)
    upgrade_schema(engine)
    row = {"prompt_id": "p1", "prompt": "When is the deadline?"}
    row["turns"] = [
        {"role": "user", "text": "I file my VAT return for 2025 myself."},
        {"role": "assistant", "text": "Then you file it online, with your receipts kept for ten years."},
        {"role": "user", "text": row["prompt"]},
    ]
    row["responses"] = [{"response_id": f"r{v}", "model": f"bot-v{v}", "text": ANSWER} for v in (1, 2)]
    path = folder / "c.jsonl"
    path.write_text(json.dumps(row, ensure_ascii=False) + "\n", encoding="utf-8")
    import_file(path, "conversations", engine=engine)
    build(engine, folder, prompts=0, experts=1)
    dispose_engines()
    with running_app(url) as base_url:
        yield url, base_url


def select_text(page, stretch: str, skip: int = 0) -> None:
    assert page.evaluate(SELECT, [stretch, skip]) >= 0
    page.wait_for_timeout(100)


def press(page, *keys: str) -> None:
    for key in keys:
        page.keyboard.press(key)
        page.wait_for_timeout(80)


def test_a_span_marked_by_keyboard_is_stored_in_code_points(store, page):
    url, base_url = store
    page.set_viewport_size({"width": 1280, "height": 800})
    sign_in(page, base_url, "expert0", PASSWORD)
    open_page(page, "Rate answers")
    page.locator(".wb-spantext").wait_for()
    wait_until_idle(page)
    press(page, "4", "5", "2")  # scores first: marking a span keeps them
    select_text(page, WRONG)
    press(page, "i", "Shift+M")
    page.get_by_role("button", name="31 May · Incorrect, major").wait_for()
    assert page.locator("mark.wb-major").inner_text() == WRONG
    select_text(page, WRONG, skip=3)  # "May", inside the span: the same flag may not overlap
    press(page, "i", "m")
    page.get_by_text("The span was not marked").wait_for()
    wait_until_idle(page)
    assert "overlap with the same label 'incorrect'" in page.locator('[data-testid="stAlert"]').inner_text()
    select_text(page, KEEP)  # by mouse: the bar floating over the selection, with a note
    page.locator(".wb-span-bar button", has_text="Non-compliant (c)").click()
    page.locator(".wb-span-note").fill("say for how long: ten years")
    page.locator(".wb-span-bar button", has_text="Minor (m)").click()
    page.get_by_role("button", name="Keep your receipts · Non-compliant, minor").wait_for()
    wait_until_idle(page)
    submit = page.get_by_role("button", name="Submit (Enter)")
    assert submit.bounding_box()["y"] + submit.bounding_box()["height"] <= 800  # one screen
    if shot := os.environ.get("SPANS_SHOT"):  # the README's screenshot: docs/screenshots/rate_spans.png
        page.screenshot(path=shot)
    press(page, "r")
    page.keyboard.type("The deadline is 31 July.")
    press(page, "Escape", "Enter")
    page.get_by_text("Saved.").wait_for()
    wait_until_idle(page)
    start = ANSWER.index(WRONG)
    assert len(ANSWER[:start].encode("utf-16-le")) // 2 == start + 1  # the browser counts the emoji twice
    with session_scope(get_engine(url)) as s:
        rating = s.execute(select(Rating)).scalar_one()
        event = s.execute(select(AuditEvent).where(AuditEvent.action == "rating.create")).scalar_one()
    keep = ANSWER.index(KEEP)
    expected = [
        {"start": start, "end": start + len(WRONG), "label": "incorrect", "severity": "major"},
        {"start": keep, "end": keep + len(KEEP), "label": "non_compliant", "severity": "minor"}
        | {"note": "say for how long: ten years"},
    ]
    assert (rating.helpfulness, rating.harmlessness, rating.accuracy) == (4, 5, 2)
    assert (rating.spans, rating.flags, event.after["spans"]) == (expected, ["incorrect", "non_compliant"], expected)
    assert ANSWER[rating.spans[0]["start"] : rating.spans[0]["end"]] == WRONG
    press(page, "u")  # change my last rating: its spans are marked again, and one is removed
    dialog = page.get_by_role("dialog")
    dialog.locator("mark.wb-major").wait_for()
    dialog.get_by_role("button", name="31 May · Incorrect, major").click()
    wait_until_idle(page)
    assert dialog.locator("mark.wb-major").count() == 0 and dialog.locator("mark.wb-minor").count() == 1
    dialog.get_by_role("button", name="Save change").click()
    page.get_by_text("Your rating was changed.").wait_for()
    with session_scope(get_engine(url)) as s:
        assert s.execute(select(Rating.spans)).scalar_one() == expected[1:]

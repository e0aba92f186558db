"""An annotator labels three moderation items in a real browser, by mouse; the labels land in the store."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from core.accounts.users import create_user
from core.store.db import dispose_engines, get_engine, session_scope, upgrade_schema
from core.store.models import ModerationItem, ModerationLabel
from tests.live_app import next_item_shown, open_page, running_app, shown_item, sign_in
from tests.moderation_store import import_rows, score_row

pytestmark = pytest.mark.browser
PASSWORD = "browser-pass"
ITEMS = {  # text -> score: served most uncertain first
    "Nobody asked for your opinion, @kai. Go away.": 0.5,
    "Check out my channel for more tips, link in my bio!": 0.45,
    "Lovely weather in Lyon today.": 0.38,
}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    folder = tmp_path_factory.mktemp("browser-moderation")
    url = f"sqlite:///{folder / 'store.db'}"
    engine = get_engine(url)
    upgrade_schema(engine)
    rows = [score_row(f"b{n}", "clf", score, text=text) for n, (text, score) in enumerate(ITEMS.items())]
    import_rows(engine, folder, "moderation", rows)
    with session_scope(engine, write=True) as session:
        create_user(session, username="ana", role="annotator", password=PASSWORD, display_name="Ana Ruiz")
    dispose_engines()
    with running_app(url) as base:
        yield base, url


def label(page, choice: str, categories: list[str], note: str = "") -> None:
    form = page.locator('[data-testid="stForm"]').first
    shown = shown_item(page)
    form.locator("button[data-variant]", has_text=choice).first.click()
    for category in categories:
        form.locator("button[data-variant]", has_text=category).click()
    if note:
        form.get_by_label("Note (n): optional, why, when the case is close").fill(note)
    form.get_by_role("button", name="Submit (Enter)").click()
    page.get_by_text("Saved.").first.wait_for()
    next_item_shown(page, shown)


def test_an_annotator_labels_three_items(store, page):
    base, url = store
    sign_in(page, base, "ana", PASSWORD)
    open_page(page, "Label items")
    texts = list(ITEMS)
    page.get_by_text(texts[0], exact=True).wait_for()
    label(page, "Toxic (1)", ["Harassment (h)"], "targets a person")
    page.get_by_text(texts[1], exact=True).wait_for()
    label(page, "Toxic (1)", ["Spam (m)"])
    page.get_by_text(texts[2], exact=True).wait_for()
    label(page, "Not toxic (2)", [])
    page.get_by_text("Nothing left to label for you right now. Thank you!").wait_for()
    with session_scope(get_engine(url)) as session:
        stored = session.execute(
            select(ModerationItem.text, ModerationLabel.label, ModerationLabel.categories, ModerationLabel.note)
            .join(ModerationItem, ModerationItem.id == ModerationLabel.item_id)
            .order_by(ModerationLabel.id)
        ).all()
    assert [tuple(row) for row in stored] == [
        (texts[0], "toxic", ["harassment"], "targets a person"),
        (texts[1], "toxic", ["spam"], ""),
        (texts[2], "not_toxic", [], ""),
    ]

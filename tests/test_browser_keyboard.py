"""A reviewer's shift worked by keyboard alone in a real browser (no mouse event after signing in), on the demo store:
20 ratings (one with a flag and a rationale), 10 comparisons, 10 labels (one refused for a missing category) and 3
adjudications; then exactly those judgments are in the store, each with its audit event."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from core.store.db import dispose_engines, get_engine, session_scope
from core.store.models import Adjudication, AuditEvent, Comparison, ModerationLabel, Rating, User
from tests.live_app import REPO_ROOT, next_item_shown, running_app, shown_item, sign_in, wait_until_idle

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('keyboard') / 'store.db'}"
    env = os.environ | {"DATABASE_URL": url}
    for command in (["init"], ["demo", "--if-empty"]):
        subprocess.run(
            [sys.executable, "-m", "core", *command], cwd=REPO_ROOT, env=env, check=True, capture_output=True
        )
    with running_app(url) as base_url:
        yield url, base_url
    dispose_engines()


def item(page) -> str:
    return page.evaluate("document.body.dataset.wbItem || ''")


def go(page, base_url: str, path: str) -> None:
    """Open a page by its address (a link or a typed URL: no mouse), and wait for its first item."""
    page.goto(f"{base_url}{path}")
    shown_item(page)
    wait_until_idle(page)


def keys(page, *pressed: str) -> None:
    for key in pressed:
        page.keyboard.press(key)
        page.wait_for_timeout(60)


def typed(page, text: str) -> None:
    page.wait_for_timeout(150)
    page.keyboard.type(text)
    page.wait_for_timeout(150)


def submitted(page, before: str, submit: str = "Enter") -> None:
    """Submit by key and wait until the next item is shown."""
    page.keyboard.press(submit)
    next_item_shown(page, before)


def counts(url: str, user_id: int) -> dict[str, int]:
    with session_scope(get_engine(url)) as s:
        found = {
            model.__tablename__: s.execute(select(func.count()).where(model.user_id == user_id)).scalar_one()
            for model in (Rating, Comparison, ModerationLabel, Adjudication)
        }
        for name in list(found):
            found[f"{name}.create"] = s.execute(
                select(func.count()).where(AuditEvent.action == f"{name}.create", AuditEvent.actor_id == user_id)
            ).scalar_one()
    return found


def test_a_shift_by_keyboard_alone_lands_every_judgment_with_its_audit_event(demo, page):
    url, base_url = demo
    with session_scope(get_engine(url)) as s:
        expert = s.execute(select(User.id).where(User.username == "expert")).scalar_one()
    before = counts(url, expert)
    sign_in(page, base_url, "expert", "expert-demo")
    clicks: list[str] = []
    page.expose_function("wbClicked", lambda trusted: trusted and clicks.append("mouse"))
    page.add_init_script("document.addEventListener('mousedown', e => window.wbClicked(e.isTrusted), true)")

    go(page, base_url, "/rate")
    for n in range(19):
        shown = item(page)
        keys(page, "4", "5", str(3 + n % 3))
        submitted(page, shown)
    shown = item(page)
    keys(page, "2", "4", "2", "f")  # accuracy 2 and a flag: a rationale is needed
    page.get_by_role("option").first.wait_for()
    typed(page, "incorrect")
    keys(page, "Enter", "Escape", "r")
    typed(page, "States the 2019 rate; it changed in 2021.")
    submitted(page, shown, "Control+Enter")

    keys(page, "?")  # the cheat sheet
    page.get_by_text("score the active dimension (▸) and move to the next").wait_for()
    keys(page, "Escape")
    keys(page, "u")  # change my last rating: it opens with the values stored
    page.get_by_role("dialog").get_by_text("Change my last rating").wait_for()
    keys(page, "Escape")
    page.get_by_role("dialog").wait_for(state="detached")

    go(page, base_url, "/compare")
    for n in range(10):
        shown = item(page)
        keys(page, *(("1", "w") if n % 3 == 0 else ("2", "q") if n % 3 == 1 else ("3",)))
        submitted(page, shown)

    go(page, base_url, "/moderation")
    shown = item(page)
    keys(page, "1", "Enter")  # toxic without a category: refused, nothing stored
    page.get_by_text("choose the categories that apply (at least one for a toxic item)").wait_for()
    assert item(page) == shown
    keys(page, "h")
    submitted(page, shown)
    for n in range(9):
        shown = item(page)
        keys(page, *(("2",) if n % 2 else ("1", "t", "m")))
        submitted(page, shown)

    go(page, base_url, "/adjudicate")
    for _ in range(3):
        shown = item(page)
        keys(page, "2", "r")
        typed(page, "Rude, but no insult and no group targeted.")
        submitted(page, shown, "Control+Enter")

    after = counts(url, expert)
    added = {name: after[name] - before[name] for name in after}
    assert added == {
        "rating": 20,
        "rating.create": 20,
        "comparison": 10,
        "comparison.create": 10,
        "moderation_label": 10,
        "moderation_label.create": 10,
        "adjudication": 3,
        "adjudication.create": 3,
    }
    with session_scope(get_engine(url)) as s:
        flagged = s.execute(select(Rating).where(Rating.user_id == expert).order_by(Rating.id.desc())).scalars().first()
        categories = (
            s.execute(
                select(ModerationLabel.categories).where(ModerationLabel.user_id == expert).order_by(ModerationLabel.id)
            )
            .scalars()
            .all()
        )
    assert (flagged.helpfulness, flagged.harmlessness, flagged.accuracy) == (2, 4, 2)
    assert flagged.flags == ["incorrect"] and flagged.rationale == "States the 2019 rate; it changed in 2021."
    assert categories[-10:][0] == ["harassment"] and categories[-10:][1] == ["hate", "spam"]
    assert clicks == []


HIDE = """(hidden) => {
    Object.defineProperty(document, "hidden", {value: hidden, configurable: true});
    document.dispatchEvent(new Event("visibilitychange"));
}"""


def test_time_spent_leaves_out_a_hidden_tab(demo, page):
    url, base_url = demo
    sign_in(page, base_url, "expert2", "expert2-demo")
    started = time.monotonic()  # before the answer is leased: the page's whole time is at most what follows
    go(page, base_url, "/rate")
    shown = item(page)
    page.evaluate(HIDE, True)  # the reviewer switches to another tab for 3 seconds
    page.wait_for_timeout(3000)
    page.evaluate(HIDE, False)
    page.wait_for_timeout(1500)  # the page reports the hidden time; a rerun follows
    wait_until_idle(page)
    keys(page, "3", "3", "3")
    submitted(page, shown)
    on_the_page = time.monotonic() - started
    with session_scope(get_engine(url)) as s:
        rating = (
            s.execute(
                select(Rating)
                .join(User, User.id == Rating.user_id)
                .where(User.username == "expert2")
                .order_by(Rating.id.desc())
            )
            .scalars()
            .first()
        )
    assert (rating.helpfulness, rating.harmlessness, rating.accuracy) == (3, 3, 3)
    # the 3 hidden seconds are left out, however slow a loaded machine makes the rest
    assert 0 < rating.seconds_spent <= on_the_page - 2.5

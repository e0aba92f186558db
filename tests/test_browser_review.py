"""An expert's review session in a real browser, by mouse: rate two answers, compare two pairs, and find them in the
store."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from core.store.db import dispose_engines, get_engine, session_scope, upgrade_schema
from core.store.models import Comparison, Rating
from tests.live_app import next_item_shown, open_page, running_app, shown_item, sign_in, wait_until_idle
from tests.review_store import PASSWORD, build

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, int], str]]:
    folder = tmp_path_factory.mktemp("review-browser")
    url = f"sqlite:///{folder / 'store.db'}"
    engine = get_engine(url)
    upgrade_schema(engine)
    users = build(engine, folder, prompts=4, experts=1)
    dispose_engines()
    with running_app(url) as base_url:
        yield url, users, base_url


def choose(page, field: str, option: str) -> None:
    """Click an option of the form's button group keyed `...-{field}`."""
    group = page.locator(f'[class*="-{field} "] button[data-variant]')
    group.filter(has_text=option).first.click()


def submit_and_wait(page, saved: str) -> None:
    shown = shown_item(page)
    page.get_by_role("button", name="Submit (Enter)").click()
    page.get_by_text(saved).wait_for()
    next_item_shown(page, shown)


def test_an_expert_rates_two_answers_and_compares_two_pairs(store, page):
    url, users, base_url = store
    sign_in(page, base_url, "expert0", PASSWORD)
    open_page(page, "Rate answers")
    for accuracy in ("4", "5"):
        assert page.get_by_text("bot-v1").count() == 0 and page.get_by_text("bot-v2").count() == 0
        choose(page, "helpfulness", "4")
        choose(page, "harmlessness", "5")
        choose(page, "accuracy", accuracy)
        submit_and_wait(page, "Saved. Here is the next answer.")
    open_page(page, "Compare answers")
    for preferred in ("Left (1)", "Right (2)"):
        choose(page, "choice", preferred)
        choose(page, "strength", "Clear (w)")
        submit_and_wait(page, "Saved. Here is the next pair.")
    with session_scope(get_engine(url)) as s:
        mine = users["expert0"]
        ratings = s.execute(select(Rating.accuracy, Rating.helpfulness).where(Rating.user_id == mine)).all()
        columns = (Comparison.choice, Comparison.strength, Comparison.left_response_id, Comparison.response_a_id)
        comparisons = s.execute(select(*columns).where(Comparison.user_id == mine).order_by(Comparison.id)).all()
    assert sorted(ratings) == [(4, 4), (5, 4)]
    assert len(comparisons) == 2 and {c.strength for c in comparisons} == {"clear"}
    # left was chosen first, right second: the stored choice is the answer that stood on that side
    first, second = comparisons
    assert first.choice == ("a" if first.left_response_id == first.response_a_id else "b")
    assert second.choice == ("b" if second.left_response_id == second.response_a_id else "a")


def test_a_different_rating_from_a_second_tab_is_refused_not_lost(store, page):
    url, _users, base_url = store
    sign_in(page, base_url, "expert0", PASSWORD)
    open_page(page, "Rate answers")
    first = shown_item(page)
    second_tab = page.context.new_page()  # the same browser: the same sign-in
    second_tab.goto(f"{base_url}/rate")
    assert shown_item(second_tab) == first  # both tabs show the held answer
    wait_until_idle(second_tab)
    for score in ("helpfulness", "harmlessness", "accuracy"):
        choose(page, score, "4")
        choose(second_tab, score, "3")
    submit_and_wait(page, "Saved. Here is the next answer.")
    second_tab.get_by_role("button", name="Submit (Enter)").click()
    second_tab.get_by_text("You already rated this answer, in another tab or window.", exact=False).wait_for()
    wait_until_idle(second_tab)
    assert shown_item(second_tab) == first  # the answer stays, with the refused scores
    pressed = second_tab.locator('[class*="-accuracy "] button[aria-checked="true"]')
    assert pressed.inner_text().strip().startswith("3")
    with session_scope(get_engine(url)) as s:
        latest = s.execute(select(Rating.accuracy).order_by(Rating.id.desc()).limit(1)).scalar_one()
    assert latest == 4
    second_tab.close()

"""The expert's Rate and Compare pages, driven with AppTest: what the reviewer sees and what lands in the store."""

from __future__ import annotations

import html
import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
import streamlit as st
from sqlalchemy import func, select, update
from streamlit.testing.v1 import AppTest

from core.auth import UserPublic
from core.ingest import import_file
from core.review import queues, settings
from core.review.judgments import RatingIn, submit_rating
from core.review.spans import Span
from core.store.db import session_scope
from core.store.models import Assignment, AuditEvent, Comparison, Rating, Response, utcnow
from tests.app_helpers import field, toasts
from tests.review_store import build

PAGES = Path(__file__).resolve().parents[1] / "pages"
EVIL = "<script>alert('x')</script><b>bold?</b>"


@pytest.fixture
def store(engine, tmp_path):
    st.cache_resource.clear()
    users = build(engine, tmp_path, prompts=2)
    yield engine, users
    st.cache_resource.clear()


def page(name: str, user_id: int, username: str = "expert0", role: str = "expert") -> AppTest:
    at = AppTest.from_file(str(PAGES / f"{name}.py"), default_timeout=30)
    at.session_state["user"] = UserPublic(user_id, username, username, role, True)
    return at.run()


def texts(at: AppTest) -> str:
    """What the page shows in words: its Markdown, and the text of its HTML blocks (an answer with its error spans)."""
    shown = [str(m.value) for m in at.markdown]
    shown += [html.unescape(re.sub(r"<[^>]*>", "", h.proto.body)) for h in at.get("html")]
    return "\n".join(shown)


def pick(at: AppTest, helpfulness=4, harmlessness=5, accuracy=4, *, change: bool = False) -> None:
    for name, value in (("helpfulness", helpfulness), ("harmlessness", harmlessness), ("accuracy", accuracy)):
        field(at, name, change=change).set_value(value)


def submit(at: AppTest) -> AppTest:
    return field(at, "submit").click().run()


def counts(at: AppTest) -> str:
    return next(str(m.value) for m in at.caption if str(m.value).startswith("Done today"))


def take(engine, user_id: int, queue: str = "rating"):
    with session_scope(engine, write=True) as s:
        return queues.next_item(s, queue=queue, user_id=user_id)


def next_to(at: AppTest, field: str) -> str | None:
    """The error drawn right after the form's widget keyed `...-{field}`, if any."""
    order = []

    def walk(node) -> None:
        order.append(node)
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    for place, element in enumerate(order):
        key = getattr(element, "key", None) or ""
        if key.endswith(f"-{field}") and not key.startswith("change-"):
            for following in order[place + 1 :]:
                if type(following).__name__ == "Error":
                    return following.value
                if getattr(following, "key", None):  # the next widget came first
                    return None
    return None


def count(engine, model) -> int:
    with session_scope(engine) as s:
        return s.execute(select(func.count()).select_from(model)).scalar_one()


def test_rate_shows_question_answer_and_guidelines_but_never_the_model(store):
    _engine, users = store
    at = page("rate", users["expert0"])
    assert not at.exception
    shown = texts(at)
    assert "Question 0?" in shown and "v1 answer 0" in shown
    assert "bot-v1" not in shown and "bot-v2" not in shown
    assert [p.proto.popover.label for p in at.get("popover")] == ["Guidelines", "Keys (?)"]
    assert "Score what is written" in shown  # from data/guidelines/rating.md
    assert "| `1 – 5` | score the active dimension" in shown  # the cheat sheet
    assert counts(at) == "Done today **0** · Left in the queue **4**"
    assert [b.label for b in at.button] == ["Submit (Enter)", "Skip (s)"]
    assert not field(at, "flags").proto.select_all  # flags are chosen one by one: no "Select all"


def test_submitting_a_rating_stores_it_and_shows_the_next_answer(store):
    engine, users = store
    at = page("rate", users["expert0"])
    pick(at)
    submit(at)
    assert not at.exception
    assert toasts(at) == ["Saved. Here is the next answer."]
    assert "v2 answer 0" in texts(at)
    assert counts(at) == "Done today **1** · Left in the queue **3**"
    with session_scope(engine) as s:
        rating = s.execute(select(Rating)).scalar_one()
        answer = s.get(Response, rating.response_id).text
    assert (answer, rating.helpfulness, rating.accuracy, rating.user_id) == ("v1 answer 0", 4, 4, users["expert0"])


def test_a_low_accuracy_without_a_rationale_is_refused_on_the_page(store):
    engine, users = store
    at = page("rate", users["expert0"])
    pick(at, accuracy=1)
    submit(at)
    assert at.error[0].value == "A rationale is required when accuracy is 2 or less or a flag is set."
    assert next_to(at, "rationale") == at.error[0].value  # right under the rationale, as a sentence
    assert count(engine, Rating) == 0
    assert field(at, "accuracy").value == 1  # the form keeps what was entered
    field(at, "rationale").input("States the wrong VAT rate.")
    submit(at)
    assert count(engine, Rating) == 1


def test_an_incomplete_rating_says_what_is_missing(store):
    engine, users = store
    at = page("rate", users["expert0"])
    field(at, "helpfulness").set_value(3)
    submit(at)
    assert at.error[0].value == "Score every dimension: harmlessness and accuracy are missing."
    assert count(engine, Rating) == 0


def test_skip_moves_on_and_writes_no_rating(store):
    engine, users = store
    at = page("rate", users["expert0"])
    field(at, "skip").click().run()
    assert toasts(at) == ["Skipped: the answer goes to another reviewer."]
    assert "v2 answer 0" in texts(at)
    assert count(engine, Rating) == 0


def test_skip_takes_an_optional_reason_that_the_admins_see_counted(store):
    engine, users = store
    at = page("rate", users["expert0"])
    assert [o.content for o in field(at, "skip_reason").proto.options] == ["Unclear", "Specialist", "Offensive"]
    field(at, "skip_reason").set_value("specialist")
    field(at, "skip").click().run()
    assert toasts(at) == ["Skipped: the answer goes to another reviewer."]
    with session_scope(engine) as s:
        assert s.execute(select(Assignment.skip_reason).where(Assignment.status == "skipped")).scalar_one() == (
            "specialist"
        )
    admin = AppTest.from_file(str(PAGES / "queues.py"), default_timeout=30)
    admin.session_state["user"] = UserPublic(users["admin"], "admin", "Admin", "admin", True)
    admin.run()
    assert "Skipped most often" in [h.value for h in admin.subheader]
    skipped = admin.dataframe[1].value
    assert skipped.iloc[0][["Queue", "Item", "Skips", "Specialist", "Unclear"]].tolist() == [
        "rating", "Question 0?", 1, 1, 0
    ]  # fmt: skip


def test_the_last_rating_can_be_reopened_and_changed(store):
    engine, users = store
    at = page("rate", users["expert0"])
    pick(at)
    submit(at)
    at.button(key="change-last").click().run()
    assert field(at, "accuracy", change=True).value == 4  # the dialog opens with the stored values
    field(at, "accuracy", change=True).set_value(2)
    field(at, "rationale", change=True).input("On reflection the threshold is wrong.")
    field(at, "save", change=True).click().run()
    assert toasts(at) == ["Your rating was changed."]
    with session_scope(engine) as s:
        assert s.execute(select(Rating.accuracy)).scalar_one() == 2
        event = s.execute(select(AuditEvent).where(AuditEvent.action == "rating.update")).scalar_one()
    assert (event.before["accuracy"], event.after["accuracy"]) == (4, 2)


def test_any_of_my_recent_ratings_can_be_reopened_and_changed(store):
    engine, users = store
    at = page("rate", users["expert0"])
    for accuracy in (3, 4, 5):
        pick(at, accuracy=accuracy)
        submit(at)
    at.button(key="recent").click().run()
    recent = at.selectbox(key="recent-choice")
    assert [o.split(" · ")[0] for o in recent.options] == ["4 / 5 / 5", "4 / 5 / 4", "4 / 5 / 3"]  # newest first
    recent.set_value(recent.options[2]).run()  # the oldest
    assert field(at, "accuracy", change=True).value == 3  # the form holds the chosen rating, not the live one
    field(at, "accuracy", change=True).set_value(2)
    field(at, "rationale", change=True).input("The rate quoted is last year's.")
    field(at, "save", change=True).click().run()
    assert toasts(at) == ["Your rating was changed."]
    with session_scope(engine) as s:
        assert s.execute(select(Rating.accuracy).order_by(Rating.id)).scalars().all() == [2, 4, 5]
        event = s.execute(select(AuditEvent).where(AuditEvent.action == "rating.update")).scalar_one()
    assert (event.before["accuracy"], event.after["accuracy"]) == (3, 2)
    assert "recent-choice" not in [sb.key for sb in at.selectbox]  # the dialog closed with the change


def test_a_different_rating_from_a_second_tab_is_refused_and_kept_for_a_change(store):
    engine, users = store
    tab_a, tab_b = page("rate", users["expert0"]), page("rate", users["expert0"])
    assert "v1 answer 0" in texts(tab_a) and "v1 answer 0" in texts(tab_b)  # the same leased answer
    pick(tab_a)
    submit(tab_a)
    pick(tab_b, 2, 2, 2)
    submit(tab_b)
    assert tab_b.error[0].value.startswith("You already rated this answer, in another tab or window.")
    assert "v1 answer 0" in texts(tab_b)  # the same answer, with the refused scores still in the form
    assert [field(tab_b, name).value for name in ("helpfulness", "harmlessness", "accuracy")] == [2, 2, 2]
    with session_scope(engine) as s:
        assert s.execute(select(Rating.helpfulness, Rating.accuracy)).all() == [(4, 4)]
    tab_b.button(key="change-last").click().run()  # offered: the saved rating of this answer, with the new scores
    assert field(tab_b, "accuracy", change=True).value == 2
    field(tab_b, "rationale", change=True).input("Wrong rate.")
    field(tab_b, "save", change=True).click().run()
    assert toasts(tab_b) == ["Your rating was changed."]
    assert "v2 answer 0" in texts(tab_b)  # and on to the next answer
    with session_scope(engine) as s:
        assert s.execute(select(Rating.helpfulness, Rating.accuracy)).all() == [(2, 2)]


def test_the_same_rating_from_a_second_tab_is_a_silent_repeat(store):
    engine, users = store
    tab_a, tab_b = page("rate", users["expert0"]), page("rate", users["expert0"])
    pick(tab_a)
    submit(tab_a)
    pick(tab_b)
    submit(tab_b)
    assert not tab_b.error and toasts(tab_b) == ["Saved. Here is the next answer."]
    assert count(engine, Rating) == 1


def test_a_different_choice_from_a_second_tab_is_refused_on_compare(store):
    engine, users = store
    tab_a, tab_b = page("compare", users["expert0"]), page("compare", users["expert0"])
    field(tab_a, "choice").set_value("tie")
    submit(tab_a)
    field(tab_b, "choice").set_value("both_bad")
    submit(tab_b)
    assert tab_b.error[0].value.startswith("You already compared this pair, in another tab or window.")
    assert field(tab_b, "choice").value == "both_bad"
    with session_scope(engine) as s:
        assert s.execute(select(Comparison.choice)).scalars().all() == ["tie"]


def test_a_lease_lost_to_another_reviewer_is_said(store):
    engine, users = store
    at = page("rate", users["expert0"])
    with session_scope(engine, write=True) as s:  # the reviewer went for lunch: their lease ran out
        s.execute(update(Assignment).values(expires_at=utcnow() - timedelta(minutes=1)))
    while (lease := take(engine, users["expert1"])) is not None:  # ... and the answer went to someone else
        with session_scope(engine, write=True) as s:
            submit_rating(s, user_id=users["expert1"], assignment_id=lease.assignment_id, rating=RatingIn(3, 3, 3))
    pick(at)
    submit(at)
    assert toasts(at) == [
        "Your time on this item ran out and another reviewer has taken it, so your answer was not saved. "
        "Here is your next item."
    ]
    with session_scope(engine) as s:
        assert s.execute(select(Rating.user_id).distinct()).scalars().all() == [users["expert1"]]


def test_html_in_an_answer_is_shown_as_text(engine, tmp_path):
    st.cache_resource.clear()
    row = {
        "prompt_id": "x",
        "prompt": "Is this safe?",
        "responses": [{"response_id": f"r{v}", "model": f"bot-v{v}", "text": EVIL} for v in (1, 2)],
    }
    (tmp_path / "c.jsonl").write_text(json.dumps(row) + "\n")
    import_file(tmp_path / "c.jsonl", "conversations", engine=engine)
    users = build(engine, tmp_path, prompts=0)
    at = page("rate", users["expert0"])
    # the answer is its exact text, escaped, in the box where error spans are marked: the markup never reaches the page
    answer = [h.proto.body for h in at.get("html") if "wb-spantext" in h.proto.body]
    assert len(answer) == 1 and html.escape(EVIL) in answer[0] and EVIL not in answer[0]


def test_another_role_is_refused_on_both_pages(store):
    _engine, _users = store
    for name in ("rate", "compare"):
        at = page(name, 99, "ann", "annotator")
        assert at.error[0].value == "You do not have access to this page."
        assert "Question" not in texts(at)


def test_compare_shows_two_answers_side_by_side_and_stores_the_choice(store):
    engine, users = store
    at = page("compare", users["expert0"])
    assert not at.exception
    shown = texts(at)
    assert "v1 answer 0" in shown and "v2 answer 0" in shown and "bot-v" not in shown
    assert [m.value for m in at.markdown if m.value in ("**Left**", "**Right**")] == ["**Left**", "**Right**"]
    assert [o.content for o in field(at, "choice").proto.options] == [
        "Left (1)",
        "Right (2)",
        "Tie (3)",
        "Both bad (4)",
    ]
    with pytest.raises(LookupError):  # the queue does not ask per dimension
        field(at, "dim_helpfulness")
    field(at, "choice").set_value("left")
    field(at, "strength").set_value("strong")
    field(at, "rationale").input("Left cites the rule.")
    submit(at)
    assert toasts(at) == ["Saved. Here is the next pair."]
    with session_scope(engine) as s:
        c = s.execute(select(Comparison)).scalar_one()
    winner = c.response_a_id if c.choice == "a" else c.response_b_id
    assert winner == c.left_response_id and (c.strength, c.rationale) == ("strong", "Left cites the rule.")


def test_compare_asks_left_right_or_tie_per_dimension_when_the_queue_says_so(store):
    engine, users = store
    with session_scope(engine, write=True) as s:
        settings.configure(s, queue="comparison", actor_id=users["admin"], per_dimension=True)
    at = page("compare", users["expert0"])
    assert not at.exception
    for dimension in ("helpfulness", "harmlessness", "accuracy"):
        control = field(at, f"dim_{dimension}")
        assert control.label == f"{dimension.title()}: the better answer"
        assert [o.content for o in control.proto.options] == ["Left (1)", "Right (2)", "Tie (3)"]
    shown = texts(at)
    assert "| `↑ ↓` | change the active question |" in shown  # the cheat sheet names the keys
    assert "| `1 2 3` | then each dimension (helpfulness, harmlessness, accuracy): left, right, tie |" in shown
    assert "left is better, right is better" not in shown  # the keys without the dimensions are replaced
    field(at, "choice").set_value("left")
    field(at, "strength").set_value("clear")
    field(at, "dim_helpfulness").set_value("left")
    field(at, "dim_harmlessness").set_value("right")
    submit(at)
    assert at.error[0].value == "Choose left, right or tie for accuracy."
    assert next_to(at, "dim_accuracy") == at.error[0].value  # under the dimension that is missing
    assert count(engine, Comparison) == 0
    field(at, "dim_accuracy").set_value("tie")
    submit(at)
    assert toasts(at) == ["Saved. Here is the next pair."]
    with session_scope(engine) as s:
        c = s.execute(select(Comparison)).scalar_one()
    left, right = ("a", "b") if c.left_response_id == c.response_a_id else ("b", "a")
    assert (c.choice, c.dimensions) == (left, {"helpfulness": left, "harmlessness": right, "accuracy": "tie"})


def test_compare_without_a_strength_is_refused(store):
    engine, users = store
    at = page("compare", users["expert0"])
    field(at, "choice").set_value("right")
    submit(at)
    assert at.error[0].value == "Say how strong the preference is: slight, clear or strong."
    assert next_to(at, "strength") == at.error[0].value
    assert count(engine, Comparison) == 0


def test_a_rating_with_an_error_span_is_stored_and_its_span_shown_and_removed_in_the_change(store):
    engine, users = store
    at = page("rate", users["expert0"])
    prefix = field(at, "accuracy").key.removesuffix("-accuracy")
    at.session_state[f"{prefix}-spans"] = [Span(0, 2, "incorrect", "major")]  # as the editor adds it: "v1"
    at.run()
    assert any(">v1</mark>" in h.proto.body for h in at.get("html"))  # marked in the answer
    pick(at, accuracy=2)
    submit(at)
    assert "rationale is required" in " ".join(m.value for m in at.error)  # a span is a flag: it needs a rationale
    field(at, "rationale").input("v1 is the wrong version.")
    submit(at)
    with session_scope(engine) as s:
        assert s.execute(select(Rating.spans, Rating.flags)).one() == (
            [{"start": 0, "end": 2, "label": "incorrect", "severity": "major"}],
            ["incorrect"],
        )
    at.button(key="change-last").click().run()
    remove = next(b for b in at.button if (b.key or "").endswith("-span-remove-0"))
    assert remove.key.startswith("change-rating-") and "v1 · Incorrect, major" in remove.label
    remove.click().run()
    at.button(key="change-last").click().run()  # AppTest reruns the whole page, closing the dialog: open it again
    assert not any((b.key or "").endswith("-span-remove-0") for b in at.button)
    field(at, "save", change=True).click().run()
    assert toasts(at) == ["Your rating was changed."]
    with session_scope(engine) as s:
        assert s.execute(select(Rating.spans)).scalar_one() == []
        event = s.execute(select(AuditEvent).where(AuditEvent.action == "rating.update")).scalar_one()
    assert (len(event.before["spans"]), event.after["spans"]) == (1, [])


def test_a_comparison_keeps_the_error_spans_of_each_side_under_the_answer_it_was_stored_as(store):
    engine, users = store
    at = page("compare", users["expert0"])
    prefix = field(at, "choice").key.removesuffix("-choice")
    left = next(h.proto.body for h in at.get("html") if f'data-wb-item="{prefix}-left"' in h.proto.body)
    left_text = html.unescape(re.sub(r"<[^>]*>", "", left[left.index('<div class="wb-spantext"') :]))
    at.session_state[f"{prefix}-right-spans"] = [Span(0, 99, "unsafe", "minor")]  # beyond the answer
    at.session_state[f"{prefix}-left-spans"] = [Span(0, 2, "incorrect", "major")]
    field(at, "choice").set_value("right")
    field(at, "strength").set_value("clear")
    submit(at)
    assert at.error[0].value == "Right answer: span 1 (0-99): end is beyond the answer, which is 11 characters long."
    at.session_state[f"{prefix}-right-spans"] = []
    submit(at)
    with session_scope(engine) as s:
        stored = s.execute(select(Comparison)).scalar_one()
        side = "a" if s.get(Response, stored.response_a_id).text == left_text else "b"
        event = s.execute(select(AuditEvent).where(AuditEvent.action == "comparison.create")).scalar_one()
    expected = {side: [{"start": 0, "end": 2, "label": "incorrect", "severity": "major"}]}
    assert (stored.spans, event.after["spans"]) == (expected, expected)
    at.button(key="change-last").click().run()  # the change shows the span on the left again, where it was marked
    assert any(">v1</mark>" in h.proto.body or ">v2</mark>" in h.proto.body for h in at.get("html"))
    assert any((b.key or "").endswith("-left-span-remove-0") and b.key.startswith("change-") for b in at.button)

"""Rationales, notes, reasons and comments take at most 5,000 characters: the forms count and stop at the limit,
every write path refuses a longer text with the limit named and writes nothing, and imports apply the same limit."""

from __future__ import annotations

import json

import pytest

from core import auth
from core.ingest import ImportRefused, import_file
from core.moderation.labels import AdjudicationIn, LabelIn
from core.oversight.flags import FlagError, triage
from core.oversight.samples import SampleError, review
from core.review.judgments import ComparisonIn, FeedbackError, RatingIn, submit_rating
from core.review.queues import next_item
from core.store.db import session_scope
from core.text import TEXT_LIMIT
from tests import audit_store
from tests.app_helpers import app, field, fresh_streamlit_cache, page  # noqa: F401
from tests.review_store import build
from tests.review_store import table_counts as counts

LONG = "x" * 20_000
REFUSED = "is 20,000 characters long; the limit is 5,000: shorten it"


@pytest.mark.parametrize(
    ("make", "what"),
    [
        (lambda text: RatingIn(4, 4, 1, (), text), "rationale"),
        (lambda text: ComparisonIn("tie", None, text), "rationale"),
        (lambda text: LabelIn("not_toxic", (), text), "note"),
        (lambda text: AdjudicationIn("not_toxic", (), text), "reason"),
    ],
)
def test_every_judgment_takes_the_limit_and_refuses_more(make, what):
    assert make("y" * TEXT_LIMIT).problems() == []
    assert make(LONG).problems() == [f"the {what} {REFUSED}"]


def test_a_long_rationale_is_refused_and_writes_nothing(engine, tmp_path):
    users = build(engine, tmp_path, prompts=1, experts=1)
    with session_scope(engine, write=True) as s:
        lease = next_item(s, queue="rating", user_id=users["expert0"])
    before = counts(engine)
    with pytest.raises(FeedbackError, match=f"rationale {REFUSED}"), session_scope(engine, write=True) as s:
        submit_rating(
            s, user_id=users["expert0"], assignment_id=lease.assignment_id, rating=RatingIn(4, 4, 1, (), LONG)
        )
    assert counts(engine) == before


def test_a_long_triage_note_or_audit_reason_is_refused(engine):
    with session_scope(engine, write=True) as s:
        people, rating = audit_store.flagged_rating(s)
    before = counts(engine)
    with pytest.raises(FlagError, match=f"note {REFUSED}"), session_scope(engine, write=True) as s:
        triage(s, rating_id=rating, status="confirmed", note=LONG, actor_id=people["lead"])
    with pytest.raises(SampleError, match=f"reason {REFUSED}"), session_scope(engine, write=True) as s:
        review(s, item_id=1, auditor_id=people["lead"], verdict="disagree", reason=LONG)
    assert counts(engine) == before


@pytest.mark.parametrize(
    ("kind", "row", "field_name"),
    [
        (
            "ratings",
            {"prompt_id": "p", "prompt": "Q?", "model": "bot-v1", "response": "A.", "reviewer": "rita",
             "helpfulness": 4, "harmlessness": 5, "accuracy": 4},
            "rationale",
        ),
        (
            "comparisons",
            {"prompt_id": "p", "prompt": "Q?", "model_a": "bot-v1", "response_a": "A.", "model_b": "bot-v2",
             "response_b": "B.", "choice": "tie", "reviewer": "rita"},
            "rationale",
        ),
        ("labels", {"item_id": "i", "text": "Hi.", "annotator": "ann", "label": "not_toxic"}, "note"),
    ],
)  # fmt: skip
def test_imports_apply_the_same_limit(engine, tmp_path, kind, row, field_name):
    path = tmp_path / f"{kind}.jsonl"
    path.write_text(json.dumps(row | {field_name: "y" * TEXT_LIMIT}) + "\n" + json.dumps(row | {field_name: LONG}))
    before = counts(engine)
    with pytest.raises(ImportRefused) as refused:
        import_file(path, kind, engine=engine)
    assert refused.value.lines() == [f"line 2, field {field_name}: String should have at most 5000 characters"]
    assert {k: v for k, v in counts(engine).items() if k != "import_run"} == {
        k: v for k, v in before.items() if k != "import_run"
    }


def test_the_forms_stop_at_the_limit(engine, tmp_path):
    users = build(engine, tmp_path, prompts=1, experts=1)
    at = app(auth.UserPublic(users["expert0"], "expert0", "expert0", "expert", True))
    at.switch_page(page("rate")).run()
    assert field(at, "rationale").proto.max_chars == TEXT_LIMIT  # Streamlit counts the characters as they near it
    at.switch_page(page("compare")).run()
    assert field(at, "rationale").proto.max_chars == TEXT_LIMIT

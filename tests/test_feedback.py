"""The write path: one row per submission, audit events, refused submissions write nothing, no loss under load."""

from __future__ import annotations

import multiprocessing
import os
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from core.review import queues
from core.review.judgments import (
    AlreadyJudged,
    ComparisonIn,
    FeedbackError,
    LeaseLost,
    RatingIn,
    change_comparison,
    change_rating,
    submit_comparison,
    submit_rating,
)
from core.store.db import dispose_engines, get_engine, session_scope
from core.store.models import AuditEvent, Comparison, Rating, WorkItem, utcnow
from tests.review_store import build

GOOD = RatingIn(helpfulness=4, harmlessness=5, accuracy=4)


def take(engine, user_id, queue="rating", now=None):
    with session_scope(engine, write=True) as s:
        return queues.next_item(s, queue=queue, user_id=user_id, now=now)


def rate(engine, user_id, lease, rating=GOOD, now=None):
    with session_scope(engine, write=True) as s:
        return submit_rating(s, user_id=user_id, assignment_id=lease.assignment_id, rating=rating, now=now)


def count(engine, model):
    with session_scope(engine) as s:
        return s.execute(select(func.count()).select_from(model)).scalar_one()


def test_a_rating_lands_with_its_audit_event_and_closes_the_item(any_engine, tmp_path):
    users = build(any_engine, tmp_path, prompts=1)
    lease = take(any_engine, users["expert0"])
    rating_id = rate(any_engine, users["expert0"], lease)
    with session_scope(any_engine) as s:
        rating = s.get(Rating, rating_id)
        event = s.execute(select(AuditEvent).where(AuditEvent.action == "rating.create")).scalar_one()
        item = s.get(WorkItem, lease.work_item_id)
    assert (rating.response_id, rating.user_id, rating.accuracy, rating.source) == (
        lease.subject_id,
        users["expert0"],
        4,
        "app",
    )
    assert rating.seconds_spent >= 0
    assert (event.actor_id, event.entity_id, event.after["accuracy"]) == (users["expert0"], rating_id, 4)
    assert (item.done, item.open) == (1, False)


def test_a_repeated_submission_is_one_row(any_engine, tmp_path):
    users = build(any_engine, tmp_path, prompts=1)
    lease = take(any_engine, users["expert0"])
    first = rate(any_engine, users["expert0"], lease)
    assert rate(any_engine, users["expert0"], lease) == first
    assert count(any_engine, Rating) == 1
    with session_scope(any_engine) as s:
        assert s.get(WorkItem, lease.work_item_id).done == 1


def test_a_different_rating_of_an_answer_already_rated_in_another_tab_is_refused(any_engine, tmp_path):
    users = build(any_engine, tmp_path, prompts=1)
    lease = take(any_engine, users["expert0"])  # both tabs show this answer
    first = rate(any_engine, users["expert0"], lease)
    with pytest.raises(AlreadyJudged, match="You already rated this answer, in another tab or window") as refused:
        rate(any_engine, users["expert0"], lease, RatingIn(1, 1, 1, rationale="wrong rate"))
    assert refused.value.judgment_id == first
    assert "press u (Change last)" in str(refused.value)
    with session_scope(any_engine) as s:
        assert [(r.helpfulness, r.accuracy) for r in s.execute(select(Rating)).scalars()] == [(4, 4)]
        assert s.execute(select(func.count()).where(AuditEvent.action == "rating.create")).scalar_one() == 1


def test_a_different_preference_for_a_pair_already_compared_is_refused(engine, tmp_path):
    users = build(engine, tmp_path, prompts=1)
    lease = take(engine, users["expert0"], queue="comparison")

    def compare(preferred, strength=None):
        with session_scope(engine, write=True) as s:
            return submit_comparison(
                s,
                user_id=users["expert0"],
                assignment_id=lease.assignment_id,
                comparison=ComparisonIn(preferred, strength, " clearer "),
            )

    first = compare("left", "clear")
    assert compare("left", "clear") == first  # a double click
    with pytest.raises(AlreadyJudged, match="You already compared this pair"):
        compare("right", "clear")
    with session_scope(engine) as s:
        stored = s.execute(select(Comparison)).scalar_one()
    winner = stored.response_a_id if stored.choice == "a" else stored.response_b_id
    assert (winner, stored.strength) == (lease.left_response_id, "clear")


@pytest.mark.parametrize(
    ("rating", "message"),
    [
        (RatingIn(4, 5, 2), "a rationale is required"),
        (RatingIn(4, 5, 4, flags=("unsafe",)), "a rationale is required"),
        (RatingIn(4, 5, 4, flags=("weird",), rationale="x"), "unknown flag 'weird'"),
        (RatingIn(0, 5, 4), "helpfulness must be a whole number from 1 to 5"),
    ],
)
def test_an_invalid_rating_is_refused_and_writes_nothing(engine, tmp_path, rating, message):
    users = build(engine, tmp_path, prompts=1)
    lease = take(engine, users["expert0"])
    with pytest.raises(FeedbackError, match=message):
        rate(engine, users["expert0"], lease, rating)
    assert count(engine, Rating) == 0
    assert rate(engine, users["expert0"], lease, RatingIn(4, 5, 2, rationale="wrong rate")) > 0


def test_a_late_submission_whose_item_went_to_another_reviewer_is_refused(any_engine, tmp_path):
    users = build(any_engine, tmp_path, prompts=1)
    now = utcnow()
    mine = take(any_engine, users["expert0"], now=now)
    take(any_engine, users["expert1"], now=now)  # holds the other answer
    later = now + timedelta(minutes=20)
    theirs = take(any_engine, users["expert2"], now=later)
    assert theirs.work_item_id == mine.work_item_id
    rate(any_engine, users["expert2"], theirs, now=later)
    with pytest.raises(LeaseLost, match="another reviewer has taken it"):
        rate(any_engine, users["expert0"], mine, now=later)
    with session_scope(any_engine) as s:
        ratings = s.execute(select(Rating.user_id)).scalars().all()
    assert ratings == [users["expert2"]]


def test_a_late_submission_of_an_item_nobody_took_is_kept(engine, tmp_path):
    users = build(engine, tmp_path, prompts=1)
    now = utcnow()
    lease = take(engine, users["expert0"], now=now)
    assert rate(engine, users["expert0"], lease, now=now + timedelta(hours=1)) > 0


def test_another_reviewers_item_cannot_be_submitted(engine, tmp_path):
    users = build(engine, tmp_path, prompts=1)
    lease = take(engine, users["expert0"])
    with pytest.raises(FeedbackError, match="not yours"):
        rate(engine, users["expert1"], lease)
    assert count(engine, Rating) == 0


def test_changing_a_rating_keeps_the_old_values_in_the_audit_trail(any_engine, tmp_path):
    users = build(any_engine, tmp_path, prompts=1)
    rating_id = rate(any_engine, users["expert0"], take(any_engine, users["expert0"]))
    with session_scope(any_engine, write=True) as s:
        change_rating(
            s,
            user_id=users["expert0"],
            rating_id=rating_id,
            rating=RatingIn(2, 5, 1, flags=("incorrect",), rationale="wrong deadline"),
        )
    with session_scope(any_engine) as s:
        rating = s.get(Rating, rating_id)
        event = s.execute(select(AuditEvent).where(AuditEvent.action == "rating.update")).scalar_one()
    assert (rating.helpfulness, rating.accuracy, rating.flags, rating.updated_at is not None) == (
        2,
        1,
        ["incorrect"],
        True,
    )
    assert event.before["accuracy"] == 4 and event.after["accuracy"] == 1
    assert count(any_engine, Rating) == 1
    with pytest.raises(FeedbackError, match="only your own"), session_scope(any_engine, write=True) as s:
        change_rating(s, user_id=users["expert1"], rating_id=rating_id, rating=GOOD)


def test_a_preference_for_the_left_answer_is_stored_against_the_answer_shown_there(any_engine, tmp_path):
    users = build(any_engine, tmp_path, prompts=1)
    lease = take(any_engine, users["expert0"], queue="comparison")
    with session_scope(any_engine, write=True) as s:
        cid = submit_comparison(
            s,
            user_id=users["expert0"],
            assignment_id=lease.assignment_id,
            comparison=ComparisonIn("left", "strong", "more precise"),
        )
    with session_scope(any_engine) as s:
        c = s.get(Comparison, cid)
    winner = c.response_a_id if c.choice == "a" else c.response_b_id
    assert winner == lease.left_response_id == c.left_response_id
    assert (c.strength, c.rationale) == ("strong", "more precise")
    with session_scope(any_engine, write=True) as s:
        change_comparison(s, user_id=users["expert0"], comparison_id=cid, comparison=ComparisonIn("tie"))
    with session_scope(any_engine) as s:
        c = s.get(Comparison, cid)
        event = s.execute(select(AuditEvent).where(AuditEvent.action == "comparison.update")).scalar_one()
    assert (c.choice, c.strength) == ("tie", None)
    assert event.before["strength"] == "strong"
    assert (event.before["preferred"], event.after["preferred"]) == ("left", "tie")  # as the reviewer saw it


def test_the_audit_event_of_a_comparison_says_which_side_the_reviewer_chose(engine, tmp_path):
    users = build(engine, tmp_path, prompts=1)
    lease = take(engine, users["expert0"], queue="comparison")
    with session_scope(engine, write=True) as s:
        cid = submit_comparison(
            s, user_id=users["expert0"], assignment_id=lease.assignment_id, comparison=ComparisonIn("right", "slight")
        )
    with session_scope(engine) as s:
        c = s.get(Comparison, cid)
        event = s.execute(select(AuditEvent).where(AuditEvent.action == "comparison.create")).scalar_one()
    right = c.response_b_id if lease.left_response_id == c.response_a_id else c.response_a_id
    assert c.choice == ("a" if right == c.response_a_id else "b")
    assert (event.after["preferred"], event.after["choice"]) == ("right", c.choice)
    assert event.after["left_response_id"] == lease.left_response_id


def test_a_side_without_a_strength_is_refused(engine, tmp_path):
    users = build(engine, tmp_path, prompts=1)
    lease = take(engine, users["expert0"], queue="comparison")
    with pytest.raises(FeedbackError, match="how strong"), session_scope(engine, write=True) as s:
        submit_comparison(
            s, user_id=users["expert0"], assignment_id=lease.assignment_id, comparison=ComparisonIn("right")
        )
    assert count(engine, Comparison) == 0


WRITERS, EACH = 8, 200


def _reviewer(url: str, user_id: int, n: int) -> int:
    os.environ["DATABASE_URL"] = url
    engine = get_engine(url)
    errors = 0
    for _ in range(n):
        with session_scope(engine, write=True) as s:
            lease = queues.next_item(s, queue="rating", user_id=user_id)
        try:
            with session_scope(engine, write=True) as s:
                submit_rating(s, user_id=user_id, assignment_id=lease.assignment_id, rating=GOOD)
        except Exception:
            errors += 1
    dispose_engines()
    return errors


def test_eight_concurrent_reviewers_lose_and_duplicate_nothing(any_engine, tmp_path):
    users = build(any_engine, tmp_path, prompts=WRITERS * EACH // 2 + 50, experts=WRITERS)
    url = any_engine.url.render_as_string(hide_password=False)
    dispose_engines()
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(WRITERS) as pool:
        errors = pool.starmap(_reviewer, [(url, users[f"expert{i}"], EACH) for i in range(WRITERS)])
    assert errors == [0] * WRITERS
    engine = get_engine(url)
    with session_scope(engine) as s:
        rows = s.execute(select(func.count(), func.count(func.distinct(Rating.response_id)))).one()
        done = s.execute(select(func.sum(WorkItem.done)).where(WorkItem.queue == "rating")).scalar_one()
        events = s.execute(select(func.count()).where(AuditEvent.action == "rating.create")).scalar_one()
    assert tuple(rows) == (WRITERS * EACH, WRITERS * EACH)  # k = 1: every answer rated once
    assert done == events == WRITERS * EACH


@pytest.mark.parametrize(("hidden", "expected"), [(0, 90.0), (60, 30.0), (500, 0.0)])
def test_time_spent_runs_from_the_item_shown_to_its_submission_less_the_hidden_tab(engine, tmp_path, hidden, expected):
    users = build(engine, tmp_path, prompts=1)
    shown = utcnow()
    lease = take(engine, users["expert0"], now=shown)
    with session_scope(engine, write=True) as s:
        rating_id = submit_rating(
            s,
            user_id=users["expert0"],
            assignment_id=lease.assignment_id,
            rating=GOOD,
            now=shown + timedelta(seconds=90),
            hidden_seconds=hidden,
        )
    with session_scope(engine) as s:
        assert s.get(Rating, rating_id).seconds_spent == pytest.approx(expected)

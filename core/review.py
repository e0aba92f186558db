"""What the expert-review pages call: one function per action, each its own transaction. The views carry texts
and ids only, never which model wrote an answer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache

from sqlalchemy import Engine, Select, bindparam, exists, func, select
from sqlmodel import Session

from core import feedback, prepared, queues
from core.db import session_scope, write_scope
from core.feedback import ComparisonIn, RatingIn
from core.models import Assignment, Comparison, Prompt, Rating, Response, WorkItem, utcnow


@dataclass(frozen=True)
class RateView:
    assignment_id: int
    prompt: str
    answer: str
    started_at: datetime


@dataclass(frozen=True)
class CompareView:
    assignment_id: int
    prompt: str
    left: str
    right: str
    started_at: datetime


@dataclass(frozen=True)
class Progress:
    done_today: int
    left: int


@dataclass(frozen=True)
class LastRating:
    rating_id: int
    prompt: str
    answer: str
    values: RatingIn


@dataclass(frozen=True)
class LastComparison:
    comparison_id: int
    prompt: str
    left: str
    right: str
    values: ComparisonIn


def _texts(session: Session | prepared.Runner, *response_ids: int) -> tuple[str, list[str]]:
    """The prompt the answers answer (the first one's), and the answers' texts in the order asked."""
    values = {f"r{n}": response_id for n, response_id in enumerate(response_ids)}
    prompt, *answers = prepared.on(session).first(_texts_statement(len(response_ids)), values)
    return prompt, answers


@cache
def _texts_statement(answers: int) -> Select:
    """A prompt's text and those of some of its answers, in one statement (values: r0, r1, ...)."""
    prompt, first, *others = (Prompt.__table__, *(Response.__table__.alias(f"r{n}") for n in range(answers)))
    statement = select(prompt.c.text, first.c.text, *(other.c.text for other in others))
    statement = statement.join_from(first, prompt, prompt.c.id == first.c.prompt_id)
    for n, other in enumerate(others, start=1):
        statement = statement.join(other, other.c.id == bindparam(f"r{n}"))
    return statement.where(first.c.id == bindparam("r0"))


def _sides(left_id: int | None, a: int, b: int) -> tuple[int, int]:
    left = left_id or a
    return left, b if left == a else a


# Taking an item and submitting a judgment, the reviewer's every cycle, run in a write_scope: the write transaction
# of session_scope without the ORM Session's set-up and commit, which cost more than the transaction's SQL.


def next_to_rate(user_id: int, *, engine: Engine | None = None) -> RateView | None:
    with write_scope(engine) as run:
        lease = queues.next_item(run, queue="rating", user_id=user_id)
        if lease is None:
            return None
        prompt, (answer,) = _texts(run, lease.subject_id)
        return RateView(lease.assignment_id, prompt, answer, lease.started_at)


def next_to_compare(user_id: int, *, engine: Engine | None = None) -> CompareView | None:
    with write_scope(engine) as run:
        lease = queues.next_item(run, queue="comparison", user_id=user_id)
        if lease is None:
            return None
        left, right = _sides(lease.left_response_id, lease.subject_id, lease.subject_b_id)
        prompt, (left_text, right_text) = _texts(run, left, right)
        return CompareView(lease.assignment_id, prompt, left_text, right_text, lease.started_at)


def rate(user_id: int, assignment_id: int, rating: RatingIn, *, engine: Engine | None = None) -> int:
    with write_scope(engine) as run:
        return feedback.submit_rating(run, user_id=user_id, assignment_id=assignment_id, rating=rating)


def compare(user_id: int, assignment_id: int, comparison: ComparisonIn, *, engine: Engine | None = None) -> int:
    with write_scope(engine) as run:
        return feedback.submit_comparison(run, user_id=user_id, assignment_id=assignment_id, comparison=comparison)


def skip(user_id: int, assignment_id: int, *, engine: Engine | None = None) -> None:
    with session_scope(engine, write=True) as session:
        queues.skip(session, assignment_id=assignment_id, user_id=user_id)


def progress(user_id: int, queue: str, *, engine: Engine | None = None, now: datetime | None = None) -> Progress:
    """Judgments the reviewer made today (UTC) in this queue, and open items they have not yet judged or skipped
    (nor may not take: a disagreement they are part of)."""
    today = (now or utcnow()).replace(hour=0, minute=0, second=0, microsecond=0)
    mine = exists().where(
        Assignment.work_item_id == WorkItem.id, Assignment.user_id == user_id, Assignment.status != "leased"
    )
    if (theirs := queues.part_of(queue, user_id)) is not None:
        mine = mine | theirs
    with session_scope(engine) as session:
        done = session.execute(
            select(func.count())
            .select_from(Assignment)
            .join(WorkItem, WorkItem.id == Assignment.work_item_id)
            .where(
                Assignment.user_id == user_id,
                Assignment.status == "done",
                Assignment.updated_at >= today,
                WorkItem.queue == queue,
            )
        ).scalar_one()
        left = session.execute(
            select(func.count())
            .select_from(WorkItem)
            .where(WorkItem.queue == queue, WorkItem.open, ~WorkItem.is_gold, ~mine)
        ).scalar_one()
    return Progress(done, left)


def last_judgment_id(session: Session, user_id: int, queue: str) -> int | None:
    """The id of the reviewer's latest judgment made through this queue (rating, comparison, label...)."""
    return session.execute(
        select(Assignment.judgment_id)
        .join(WorkItem, WorkItem.id == Assignment.work_item_id)
        .where(Assignment.user_id == user_id, Assignment.status == "done", WorkItem.queue == queue)
        .order_by(Assignment.updated_at.desc())
        .limit(1)
    ).scalar_one_or_none()


def last_rating(user_id: int, *, engine: Engine | None = None) -> LastRating | None:
    """The reviewer's most recent rating made in the app, to reopen and change."""
    with session_scope(engine) as session:
        rating_id = last_judgment_id(session, user_id, "rating")
        if rating_id is None:
            return None
        r = session.get(Rating, rating_id)
        prompt, (answer,) = _texts(session, r.response_id)
        values = RatingIn(r.helpfulness, r.harmlessness, r.accuracy, tuple(r.flags), r.rationale)
        return LastRating(r.id, prompt, answer, values)


def last_comparison(user_id: int, *, engine: Engine | None = None) -> LastComparison | None:
    with session_scope(engine) as session:
        comparison_id = last_judgment_id(session, user_id, "comparison")
        if comparison_id is None:
            return None
        c = session.get(Comparison, comparison_id)
        left, right = _sides(c.left_response_id, c.response_a_id, c.response_b_id)
        prompt, (left_text, right_text) = _texts(session, left, right)
        preferred = c.choice
        if c.choice in ("a", "b"):
            winner = c.response_a_id if c.choice == "a" else c.response_b_id
            preferred = "left" if winner == left else "right"
        return LastComparison(c.id, prompt, left_text, right_text, ComparisonIn(preferred, c.strength, c.rationale))


def change_rating(user_id: int, rating_id: int, rating: RatingIn, *, engine: Engine | None = None) -> None:
    with session_scope(engine, write=True) as session:
        feedback.change_rating(session, user_id=user_id, rating_id=rating_id, rating=rating)


def change_comparison(
    user_id: int, comparison_id: int, comparison: ComparisonIn, *, engine: Engine | None = None
) -> None:
    with session_scope(engine, write=True) as session:
        feedback.change_comparison(session, user_id=user_id, comparison_id=comparison_id, comparison=comparison)

"""What a review page shows of an item: texts and ids only, never which model wrote an answer nor a classifier's
score (they would bias the reviewer). The adjudicating expert also sees every label with its annotator."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache

from sqlalchemy import Select, bindparam, func, select

from core.moderation.labels import LabelIn
from core.review.judgments import (
    ComparisonIn,
    RatingIn,
    asks_per_dimension,
    preferred_side,
    side_spans,
    sides_seen,
)
from core.review.progress import JUDGMENTS
from core.review.queues import Lease
from core.review.spans import Span
from core.store import prepared
from core.store.models import Assignment, ModerationItem, ModerationLabel, Prompt, Response, User, WorkItem

Turns = tuple[dict[str, str], ...]  # the conversation before the question: {"role": "user" | "assistant", "text"}


@dataclass(frozen=True)
class RateView:
    assignment_id: int
    prompt: str
    answer: str
    started_at: datetime
    turns: Turns = ()


@dataclass(frozen=True)
class CompareView:
    assignment_id: int
    prompt: str
    left: str
    right: str
    started_at: datetime
    turns: Turns = ()
    per_dimension: bool = False  # the queue asks left/right/tie for each rubric dimension too


@dataclass(frozen=True)
class LabelView:
    assignment_id: int
    text: str
    started_at: datetime


@dataclass(frozen=True)
class ShownLabel:
    """One label as the adjudicating expert sees it: who gave it (a person, or the dataset it came from)."""

    annotator: str
    label: str
    categories: tuple[str, ...]
    note: str
    source: str
    at: datetime


@dataclass(frozen=True)
class AdjudicationView:
    assignment_id: int
    text: str
    labels: list[ShownLabel]
    started_at: datetime
    item_id: int  # the moderation item (its comment thread shows on the Adjudicate page)


ItemView = RateView | CompareView | LabelView | AdjudicationView


RECENT = 20  # judgments a reviewer can reopen from "My recent"


# The judged item's store ids come with a judgment reopened: its comment thread shows beside it once judged.


@dataclass(frozen=True)
class LastRating:
    rating_id: int
    prompt: str
    answer: str
    values: RatingIn
    answer_id: int
    turns: Turns = ()


@dataclass(frozen=True)
class LastComparison:
    comparison_id: int
    prompt: str
    left: str
    right: str
    values: ComparisonIn
    answer_ids: tuple[int, int]  # the pair's answers, as stored (a, b)
    turns: Turns = ()
    per_dimension: bool = False  # the form asks per dimension: the queue asks, or the stored comparison has them


@dataclass(frozen=True)
class LastLabel:
    label_id: int
    text: str
    values: LabelIn
    item_id: int


def sides(left_id: int | None, a: int, b: int) -> tuple[int, int]:
    """The answers of a pair as shown: (left, right)."""
    left = left_id or a
    return left, b if left == a else a


def item_view(run: prepared.Runner, lease: Lease) -> ItemView:
    """What the page shows of the leased item."""
    if lease.queue == "rating":
        prompt, turns, (answer,) = texts(run, lease.subject_id)
        return RateView(lease.assignment_id, prompt, answer, lease.started_at, turns)
    if lease.queue == "comparison":
        shown = sides(lease.left_response_id, lease.subject_id, lease.subject_b_id)
        prompt, turns, (left, right) = texts(run, *shown)
        per_dimension = asks_per_dimension(run)
        return CompareView(lease.assignment_id, prompt, left, right, lease.started_at, turns, per_dimension)
    text = item_text(run, lease.subject_id)
    if lease.queue == "moderation":
        return LabelView(lease.assignment_id, text, lease.started_at)
    labels = item_labels(run, lease.subject_id)
    return AdjudicationView(lease.assignment_id, text, labels, lease.started_at, lease.subject_id)


def texts(run: prepared.Runner, *response_ids: int) -> tuple[str, Turns, list[str]]:
    """The prompt the answers answer (the first one's), the turns before it, and the answers' texts in the order
    asked."""
    values = {f"r{n}": response_id for n, response_id in enumerate(response_ids)}
    prompt, turns, *answers = run.first(_texts_statement(len(response_ids)), values)
    return prompt, tuple(turns or ()), answers


@cache
def _texts_statement(answers: int) -> Select:
    """A prompt's text and turns and the texts of some of its answers, in one statement (values: r0, r1, ...)."""
    prompt, first, *others = (Prompt.__table__, *(Response.__table__.alias(f"r{n}") for n in range(answers)))
    statement = select(prompt.c.text, prompt.c.turns, first.c.text, *(other.c.text for other in others))
    statement = statement.join_from(first, prompt, prompt.c.id == first.c.prompt_id)
    for n, other in enumerate(others, start=1):
        statement = statement.join(other, other.c.id == bindparam(f"r{n}"))
    return statement.where(first.c.id == bindparam("r0"))


def item_text(run: prepared.Runner, item_id: int) -> str:
    return run.scalar(_item_text_statement(), {"item_id": item_id})


@cache
def _item_text_statement() -> Select:
    items = ModerationItem.__table__
    return select(items.c.text).where(items.c.id == bindparam("item_id"))


def item_labels(run: prepared.Runner, item_id: int) -> list[ShownLabel]:
    """Every label of an item, oldest first, with the annotator's name (or the dataset's, for imported ones)."""
    return [
        ShownLabel(
            row.display_name or row.username or f"{row.source} dataset",
            row.label,
            tuple(row.categories),
            row.note,
            row.source,
            row.at,
        )
        for row in run.rows(_labels_statement(), {"item_id": item_id})
    ]


@cache
def _labels_statement() -> Select:
    labels, users = ModerationLabel.__table__, User.__table__
    return (
        select(
            labels.c.label,
            labels.c.categories,
            labels.c.note,
            labels.c.source,
            func.coalesce(labels.c.updated_at, labels.c.created_at).label("at"),
            users.c.display_name,
            users.c.username,
        )
        .outerjoin(users, users.c.id == labels.c.user_id)
        .where(labels.c.item_id == bindparam("item_id"))
        .order_by(labels.c.created_at, labels.c.id)
    )


def last_judgment_id(run: prepared.Runner, user_id: int, queue: str) -> int | None:
    """The id of the reviewer's latest judgment made through this queue (rating, comparison, label...)."""
    return run.scalar(_recent_statement(1), {"user_id": user_id, "queue": queue})


def recent_views(
    run: prepared.Runner, user_id: int, queue: str, limit: int = RECENT
) -> list[LastRating | LastComparison | LastLabel]:
    """The reviewer's latest judgments made in the app through this queue, newest first, to reopen and change."""
    ids = [row[0] for row in run.rows(_recent_statement(limit), {"user_id": user_id, "queue": queue})]
    return [view for judgment_id in ids if (view := last_view(run, user_id, queue, judgment_id)) is not None]


@cache
def _recent_statement(limit: int) -> Select:
    a, w = Assignment.__table__, WorkItem.__table__
    return (
        select(a.c.judgment_id)
        .join(w, w.c.id == a.c.work_item_id)
        .where(a.c.user_id == bindparam("user_id"), a.c.status == "done", w.c.queue == bindparam("queue"))
        .order_by(a.c.updated_at.desc())
        .limit(limit)
    )


def last_view(
    run: prepared.Runner, user_id: int, queue: str, judgment_id: int | None = None
) -> LastRating | LastComparison | LastLabel | None:
    """The reviewer's judgment of this queue with this id, by default their latest made in the app, to reopen and
    change (None: none yet, not theirs, or an adjudication, which is final)."""
    if queue == "adjudication" or (judgment_id := judgment_id or last_judgment_id(run, user_id, queue)) is None:
        return None
    stored = run.first(_row_statement(queue), {"judgment_id": judgment_id})
    if stored is None or stored.user_id != user_id:
        return None
    if queue == "rating":
        prompt, turns, (answer,) = texts(run, stored.response_id)
        values = RatingIn(
            stored.helpfulness,
            stored.harmlessness,
            stored.accuracy,
            tuple(stored.flags),
            stored.rationale,
            tuple(Span.of(span) for span in stored.spans),
        )
        return LastRating(stored.id, prompt, answer, values, stored.response_id, turns)
    if queue == "comparison":
        left, right = sides(stored.left_response_id, stored.response_a_id, stored.response_b_id)
        prompt, turns, (left_text, right_text) = texts(run, left, right)
        preferred = preferred_side(stored.choice, left, stored.response_a_id, stored.response_b_id)
        dimensions = sides_seen(stored.dimensions or {}, left, stored.response_a_id, stored.response_b_id)
        values = ComparisonIn(preferred, stored.strength, stored.rationale, dimensions, side_spans(stored))
        per_dimension = bool(dimensions) or asks_per_dimension(run)
        answer_ids = (stored.response_a_id, stored.response_b_id)
        return LastComparison(stored.id, prompt, left_text, right_text, values, answer_ids, turns, per_dimension)
    values = LabelIn(stored.label, tuple(stored.categories), stored.note)
    return LastLabel(stored.id, item_text(run, stored.item_id), values, stored.item_id)


@cache
def _row_statement(queue: str) -> Select:
    """A judgment's row (value: judgment_id)."""
    table = JUDGMENTS[queue].__table__
    return select(*table.c).where(table.c.id == bindparam("judgment_id"))

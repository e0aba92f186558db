"""Gold items made by hand on the Review queues page: the items an admin picks from (those judged last, each with
its latest judgment as the suggested answer, then items nobody has judged yet) and the answers a gold item may hold
(the fields its queue's judgments are scored on, core.reports.audit.agreement's gold accuracy)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from core.review.views import item_text, texts
from core.store import prepared
from core.store.models import (
    CHOICES,
    MODERATION_LABELS,
    RUBRIC,
    Assignment,
    Comparison,
    ModerationLabel,
    Rating,
    WorkItem,
)

GOLD_FIELDS: dict[str, dict[str, tuple]] = {
    "rating": {dimension: (1, 2, 3, 4, 5) for dimension in RUBRIC},
    "comparison": {"choice": CHOICES},
    "moderation": {"label": MODERATION_LABELS},
}
JUDGMENTS = {"rating": Rating, "comparison": Comparison, "moderation": ModerationLabel}


@dataclass(frozen=True)
class GoldCandidate:
    work_item_id: int
    texts: list[tuple[str, str]]  # (heading, text): what the item is about
    suggested: dict[str, Any]  # the latest judgment's answer; {} for an item nobody has judged


def answer_problems(queue: str, answer: dict[str, Any]) -> list[str]:
    """What is wrong with a gold answer for this queue (nothing: [])."""
    fields = GOLD_FIELDS.get(queue)
    if fields is None:
        return [f"the {queue} queue has no gold items: choose rating, comparison or moderation"]
    if not answer:
        return [f"give at least one of {', '.join(fields)}"]
    found = [
        f"{name!r} is not a field of a {queue} answer: use {', '.join(fields)}" for name in answer if name not in fields
    ]
    found += [
        f"{name} must be one of {', '.join(map(str, fields[name]))}, not {value!r}"
        for name, value in answer.items()
        if name in fields and value not in fields[name]
    ]
    return found


def gold_candidates(session: Session, queue: str, limit: int = 20) -> list[GoldCandidate]:
    """Up to `limit` items of the queue that are not gold: the last judged first, then items not judged yet."""
    model = JUDGMENTS[queue]
    judged = session.execute(
        select(WorkItem.id, WorkItem.subject_id, WorkItem.subject_b_id, Assignment.judgment_id)
        .join(WorkItem, WorkItem.id == Assignment.work_item_id)
        .where(Assignment.status == "done", WorkItem.queue == queue, ~WorkItem.is_gold)
        .order_by(Assignment.updated_at.desc())  # ix_assignment_done: the newest judgments, not every item
        .limit(4 * limit)
    ).all()
    latest: dict[int, tuple] = {}
    for row in judged:
        latest.setdefault(row.id, row)
    rows = list(latest.values())[:limit]
    if len(rows) < limit:
        rows += session.execute(
            select(WorkItem.id, WorkItem.subject_id, WorkItem.subject_b_id)
            .where(WorkItem.queue == queue, WorkItem.open, ~WorkItem.is_gold, WorkItem.done == 0)
            .order_by(WorkItem.id)
            .limit(limit - len(rows))
        ).all()
    fields = [getattr(model, name) for name in GOLD_FIELDS[queue]]
    ids = [row.judgment_id for row in rows if getattr(row, "judgment_id", None)]
    answers = {
        judgment_id: dict(zip(GOLD_FIELDS[queue], values, strict=True))
        for judgment_id, *values in session.execute(select(model.id, *fields).where(model.id.in_(ids)))
    }  # one query for the suggested answers, not one per item
    run = prepared.on(session)
    return [
        GoldCandidate(row.id, _texts(run, queue, row), answers.get(getattr(row, "judgment_id", None), {}))
        for row in rows
    ]


def _texts(run: prepared.Runner, queue: str, row: Any) -> list[tuple[str, str]]:
    if queue == "moderation":
        return [("Comment", item_text(run, row.subject_id))]
    if queue == "rating":
        question, _, (answer,) = texts(run, row.subject_id)
        return [("Question", question), ("Answer", answer)]
    question, _, (a, b) = texts(run, row.subject_id, row.subject_b_id)
    return [("Question", question), ("Answer A", a), ("Answer B", b)]

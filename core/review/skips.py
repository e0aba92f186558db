"""Items reviewers passed on, and why: counted per item for the admins' Review queues page."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlmodel import Session

from core.store.models import SKIP_REASONS, Assignment, ModerationItem, Prompt, Response, WorkItem

SHOWN_CHARACTERS = 120
SKIP_LABELS = {"unclear": "Unclear", "specialist": "Specialist", "offensive": "Offensive"}  # short: one row


@dataclass(frozen=True)
class SkippedItem:
    queue: str
    work_item_id: int
    text: str  # the question (rating, comparison) or the comment (moderation, adjudication), shortened
    skips: int
    reasons: dict[str, int]  # skips per reason of SKIP_REASONS; the rest gave none


def most_skipped(session: Session, limit: int = 20) -> list[SkippedItem]:
    """The items skipped most often, with the count of each reason given."""
    per_reason = [func.count().filter(Assignment.skip_reason == reason).label(reason) for reason in SKIP_REASONS]
    skips = func.count().label("skips")
    rows = session.execute(
        select(WorkItem.id, WorkItem.queue, WorkItem.subject_id, skips, *per_reason)
        .join(Assignment, Assignment.work_item_id == WorkItem.id)
        .where(Assignment.status == "skipped")
        .group_by(WorkItem.id, WorkItem.queue, WorkItem.subject_id)
        .order_by(skips.desc(), WorkItem.id)
        .limit(limit)
    ).all()
    texts = _texts(session, rows)
    return [
        SkippedItem(
            row.queue,
            row.id,
            texts.get((row.queue in ("moderation", "adjudication"), row.subject_id), ""),
            row.skips,
            {reason: getattr(row, reason) for reason in SKIP_REASONS},
        )
        for row in rows
    ]


def _texts(session: Session, rows: list) -> dict[tuple[bool, int], str]:
    """(is a moderation item, subject id) -> its text, shortened."""
    comments = {r.subject_id for r in rows if r.queue in ("moderation", "adjudication")}
    answers = {r.subject_id for r in rows if r.queue not in ("moderation", "adjudication")}
    found = {}
    if comments:
        query = select(ModerationItem.id, ModerationItem.text).where(ModerationItem.id.in_(comments))
        found |= {(True, i): text for i, text in session.execute(query)}
    if answers:
        query = select(Response.id, Prompt.text).join(Prompt, Prompt.id == Response.prompt_id)
        found |= {(False, i): text for i, text in session.execute(query.where(Response.id.in_(answers)))}
    return {
        key: text if len(text) <= SHOWN_CHARACTERS else text[: SHOWN_CHARACTERS - 1] + "…"
        for key, text in found.items()
    }

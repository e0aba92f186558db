"""The write path for moderation labels and adjudications, as core.feedback does it for ratings: one transaction
writes the judgment, closes the lease, counts the judgment on its work item and appends the audit event; a repeated
submission of the same assignment is the same row. A label that makes an item's labels disagree puts the item in the
adjudication queue; an adjudication takes it out of the borderline queue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from core.feedback import FeedbackError, change_judgment, claim_assignment, store_judgment
from core.models import CATEGORIES, MODERATION_LABELS, Adjudication, ModerationLabel, utcnow
from core.moderation.borderline import has_disagreement
from core.queue_sync import sync_queue
from core.text import nul_problems


def _category_problems(label: str | None, categories: tuple[str, ...]) -> list[str]:
    if label not in MODERATION_LABELS:
        return ["choose toxic or not toxic"]
    found = [f"unknown category {c!r}" for c in categories if c not in CATEGORIES]
    if label == "toxic" and not categories:
        found.append("choose the categories that apply (at least one for a toxic item)")
    if label == "not_toxic" and categories:
        found.append("categories are for toxic items: clear them, or choose toxic")
    return found


@dataclass(frozen=True)
class LabelIn:
    label: str | None
    categories: tuple[str, ...] = ()
    note: str = ""

    def problems(self) -> list[str]:
        return _category_problems(self.label, self.categories) + nul_problems("note", self.note)

    def values(self) -> dict[str, Any]:
        return {"label": self.label, "categories": sorted(set(self.categories)), "note": self.note.strip()}


@dataclass(frozen=True)
class AdjudicationIn:
    label: str | None
    categories: tuple[str, ...] = ()
    reason: str = ""

    def problems(self) -> list[str]:
        found = _category_problems(self.label, self.categories)
        if not self.reason.strip():
            found.append("give the reason for the final label (it is kept with the decision)")
        return found + nul_problems("reason", self.reason)

    def values(self) -> dict[str, Any]:
        return {"final_label": self.label, "categories": sorted(set(self.categories)), "reason": self.reason.strip()}


def _sync_adjudication(session: Session, item_id: int) -> None:
    """Labels of one item changed: bring its adjudication work item in line (only where one is or may be due)."""
    sync_queue(session, "adjudication", subject_ids=[item_id])


def submit_label(
    session: Session, *, user_id: int, assignment_id: int, label: LabelIn, now: datetime | None = None
) -> int:
    """Store a label of the leased moderation item; returns the label's id (the same id for a repeated submission)."""
    now = now or utcnow()
    claim = claim_assignment(
        session, user_id=user_id, assignment_id=assignment_id, queue="moderation", problems=label.problems(), now=now
    )
    if claim.status == "done":
        return claim.judgment_id
    values = label.values() | {"item_id": claim.subject_id}
    row = values | {"key": f"app:label:{user_id}:{claim.subject_id}", "source": "app"}
    label_id = store_judgment(session, ModerationLabel, claim, assignment_id, row, now, audited=values)
    if has_disagreement(session, claim.subject_id):
        _sync_adjudication(session, claim.subject_id)
    return label_id


def change_label(session: Session, *, user_id: int, label_id: int, label: LabelIn) -> None:
    """An annotator changes their own label; the old values stay in the audit trail. The item may now need (or no
    longer need) an adjudication."""
    if problems := label.problems():
        raise FeedbackError("; ".join(problems))
    stored = change_judgment(
        session,
        ModerationLabel,
        judgment_id=label_id,
        user_id=user_id,
        values=lambda _stored: label.values(),
        refused="You can change only labels you made in the app.",
        editable=lambda stored: stored.source == "app",
    )
    session.flush()
    _sync_adjudication(session, stored.item_id)


def submit_adjudication(
    session: Session, *, user_id: int, assignment_id: int, adjudication: AdjudicationIn, now: datetime | None = None
) -> int:
    """Store an expert's final label of a disputed item; returns the adjudication's id."""
    now = now or utcnow()
    problems = adjudication.problems()
    claim = claim_assignment(
        session, user_id=user_id, assignment_id=assignment_id, queue="adjudication", problems=problems, now=now
    )
    if claim.status == "done":
        return claim.judgment_id
    if session.execute(select(Adjudication.id).where(Adjudication.item_id == claim.subject_id)).first() is not None:
        raise FeedbackError("This item has been adjudicated already: open the next item instead.")
    row = adjudication.values() | {"item_id": claim.subject_id}
    adjudication_id = store_judgment(session, Adjudication, claim, assignment_id, row, now, audited=row)
    sync_queue(session, "moderation", subject_ids=[claim.subject_id])
    return adjudication_id

"""Moderation labels and adjudications on the one write path of core.review.judgments: one transaction writes the
judgment, closes the lease, counts the judgment on its work item and appends the audit event; a repeated submission
of the same assignment is the same row. A label that makes an item's labels disagree puts the item in the
adjudication queue; an adjudication takes it out of the borderline queue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Select, bindparam, select
from sqlmodel import Session

from core.moderation.borderline import has_disagreement
from core.review.judgments import FeedbackError, change_judgment, claim_assignment, repeated, store_judgment
from core.review.sync import sync_queue
from core.store import prepared
from core.store.models import CATEGORIES, MODERATION_LABELS, Adjudication, ModerationLabel, utcnow
from core.text import text_problems


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
        return _category_problems(self.label, self.categories) + text_problems("note", self.note)

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
        return found + text_problems("reason", self.reason)

    def values(self) -> dict[str, Any]:
        return {"final_label": self.label, "categories": sorted(set(self.categories)), "reason": self.reason.strip()}


def _sync_adjudication(run: prepared.Runner, item_id: int) -> None:
    """Labels of one item changed: bring its adjudication work item in line (only where one is or may be due)."""
    sync_queue(run, "adjudication", subject_ids=[item_id])


def submit_label(
    store: Session | prepared.Runner,
    *,
    user_id: int,
    assignment_id: int,
    label: LabelIn,
    now: datetime | None = None,
    hidden_seconds: float = 0.0,
) -> int:
    """Store a label of the leased moderation item; returns the label's id (the same id for a repeated submission)."""
    now, run = now or utcnow(), prepared.on(store)
    claim = claim_assignment(
        run, user_id=user_id, assignment_id=assignment_id, queue="moderation", problems=label.problems(), now=now
    )
    values = label.values() | {"item_id": claim.subject_id}
    if claim.status == "done":
        return repeated(run, ModerationLabel, claim, values)
    row = values | {"key": f"app:label:{user_id}:{claim.subject_id}", "source": "app"}
    label_id = store_judgment(
        run, ModerationLabel, claim, assignment_id, row, now, audited=values, hidden_seconds=hidden_seconds
    )
    if has_disagreement(run, claim.subject_id):
        _sync_adjudication(run, claim.subject_id)
    return label_id


def change_label(store: Session | prepared.Runner, *, user_id: int, label_id: int, label: LabelIn) -> None:
    """An annotator changes their own label; the old values stay in the audit trail. The item may now need (or no
    longer need) an adjudication."""
    if problems := label.problems():
        raise FeedbackError("; ".join(problems))
    run = prepared.on(store)
    stored = change_judgment(
        run,
        ModerationLabel,
        judgment_id=label_id,
        user_id=user_id,
        values=lambda _stored: label.values(),
        refused="You can change only labels you made in the app.",
        editable=lambda stored: stored.source == "app",
    )
    _sync_adjudication(run, stored.item_id)


def submit_adjudication(
    store: Session | prepared.Runner,
    *,
    user_id: int,
    assignment_id: int,
    adjudication: AdjudicationIn,
    now: datetime | None = None,
    hidden_seconds: float = 0.0,
) -> int:
    """Store an expert's final label of a disputed item; returns the adjudication's id."""
    now, run = now or utcnow(), prepared.on(store)
    problems = adjudication.problems()
    claim = claim_assignment(
        run, user_id=user_id, assignment_id=assignment_id, queue="adjudication", problems=problems, now=now
    )
    row = adjudication.values() | {"item_id": claim.subject_id}
    if claim.status == "done":
        return repeated(run, Adjudication, claim, row)
    if run.first(_adjudicated_statement(), {"item_id": claim.subject_id}) is not None:
        raise FeedbackError("This item has been adjudicated already: open the next item instead.")
    adjudication_id = store_judgment(
        run, Adjudication, claim, assignment_id, row, now, audited=row, hidden_seconds=hidden_seconds
    )
    sync_queue(run, "moderation", subject_ids=[claim.subject_id])
    return adjudication_id


@cache
def _adjudicated_statement() -> Select:
    adjudications = Adjudication.__table__
    return select(adjudications.c.id).where(adjudications.c.item_id == bindparam("item_id"))

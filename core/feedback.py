"""The write path for judgments made in the app. One transaction writes the judgment, closes the reviewer's lease,
counts the judgment on its work item and appends the audit event. A repeated submission (double click, retry) of
the same assignment is the same row."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Select, bindparam, func, select
from sqlmodel import Session

from core import audit
from core.models import FLAGS, STRENGTHS, Assignment, Comparison, Rating, Response, WorkItem, utcnow


class FeedbackError(Exception):
    """A submission was refused; nothing was written. The message is safe to show."""


class LeaseLost(FeedbackError):
    pass


@dataclass(frozen=True)
class RatingIn:
    helpfulness: int
    harmlessness: int
    accuracy: int
    flags: tuple[str, ...] = ()
    rationale: str = ""

    def problems(self) -> list[str]:
        found = [
            f"{name} must be a whole number from 1 to 5"
            for name in ("helpfulness", "harmlessness", "accuracy")
            if getattr(self, name) not in (1, 2, 3, 4, 5)
        ]
        found += [f"unknown flag {flag!r}" for flag in self.flags if flag not in FLAGS]
        if (self.accuracy <= 2 or self.flags) and not self.rationale.strip():
            found.append("a rationale is required when accuracy is 2 or less or a flag is set")
        return found

    def values(self) -> dict[str, Any]:
        return asdict(self) | {"flags": sorted(set(self.flags)), "rationale": self.rationale.strip()}


@dataclass(frozen=True)
class ComparisonIn:
    """What the reviewer saw and chose: `preferred` is left, right, tie or both_bad (never a model's name)."""

    preferred: str
    strength: str | None = None
    rationale: str = ""

    def problems(self) -> list[str]:
        if self.preferred not in ("left", "right", "tie", "both_bad"):
            return ["choose left, right, tie or both bad"]
        if self.preferred in ("left", "right") and self.strength not in STRENGTHS:
            return ["say how strong the preference is: slight, clear or strong"]
        return []


# Built once, values bound at each call: building a statement and its cache key costs more than running it.


@cache
def _claim_statement() -> Select:
    """An assignment and its work item, both locked (value: assignment_id)."""
    return (
        select(Assignment, WorkItem)
        .join(WorkItem, WorkItem.id == Assignment.work_item_id)
        .where(Assignment.id == bindparam("assignment_id"))
        .with_for_update()
    )


@cache
def _prompt_statement() -> Select:
    """The prompt an answer answers (value: response_id)."""
    return select(Response.prompt_id).where(Response.id == bindparam("response_id"))


def claim_assignment(session: Session, *, user_id: int, assignment_id: int, queue: str, now: datetime):
    """Lock the assignment and its item; refuse if it is not the reviewer's or its place went to another."""
    row = session.execute(_claim_statement(), {"assignment_id": assignment_id}).first()
    if row is None or row[0].user_id != user_id or row[1].queue != queue:
        raise FeedbackError("This item is not yours: open the next item instead.")
    assignment, item = row
    if assignment.status == "skipped":
        raise FeedbackError("You skipped this item; it has gone back to the queue.")
    if assignment.status == "leased" and assignment.expires_at <= now and not item.is_gold:
        others = session.execute(
            select(func.count())
            .select_from(Assignment)
            .where(
                Assignment.work_item_id == item.id,
                Assignment.user_id != user_id,
                Assignment.status == "leased",
                Assignment.expires_at > now,
            )
        ).scalar_one()
        if item.done + others >= item.k:
            raise LeaseLost(
                "Your time on this item ran out and another reviewer has taken it, so your answer was "
                "not saved. Here is your next item."
            )
    return assignment, item


def close_assignment(session: Session, assignment: Assignment, item: WorkItem, judgment_id: int, now: datetime) -> None:
    assignment.status, assignment.judgment_id, assignment.updated_at = "done", judgment_id, now
    item.done += 1
    item.open = item.is_gold or item.done < item.k
    session.add_all([assignment, item])


def submit_rating(
    session: Session, *, user_id: int, assignment_id: int, rating: RatingIn, now: datetime | None = None
) -> int:
    """Store a rating of the leased answer; returns the rating's id (the same id for a repeated submission)."""
    if problems := rating.problems():
        raise FeedbackError("; ".join(problems))
    now = now or utcnow()
    assignment, item = claim_assignment(session, user_id=user_id, assignment_id=assignment_id, queue="rating", now=now)
    if assignment.status == "done":
        return assignment.judgment_id
    values = rating.values()
    stored = Rating(
        key=f"app:rating:{user_id}:{item.id}",
        source="app",
        response_id=item.subject_id,
        user_id=user_id,
        seconds_spent=(now - assignment.started_at).total_seconds(),
        created_at=now,
        **values,
    )
    session.add(stored)
    session.flush()
    close_assignment(session, assignment, item, stored.id, now)
    audit.record(
        session,
        actor_id=user_id,
        action="rating.create",
        entity="rating",
        entity_id=stored.id,
        after=values | {"response_id": item.subject_id},
    )
    return stored.id


def _choice(preferred: str, left_id: int, item: WorkItem) -> str:
    if preferred in ("tie", "both_bad"):
        return preferred
    chosen = left_id if preferred == "left" else (item.subject_b_id if left_id == item.subject_id else item.subject_id)
    return "a" if chosen == item.subject_id else "b"


def submit_comparison(
    session: Session, *, user_id: int, assignment_id: int, comparison: ComparisonIn, now: datetime | None = None
) -> int:
    """Store a preference between the two leased answers, as shown left and right; returns the comparison's id."""
    if problems := comparison.problems():
        raise FeedbackError("; ".join(problems))
    now = now or utcnow()
    assignment, item = claim_assignment(
        session, user_id=user_id, assignment_id=assignment_id, queue="comparison", now=now
    )
    if assignment.status == "done":
        return assignment.judgment_id
    prompt_id = session.execute(_prompt_statement(), {"response_id": item.subject_id}).scalar_one()
    values = {
        "choice": _choice(comparison.preferred, assignment.left_response_id, item),
        "strength": comparison.strength if comparison.preferred in ("left", "right") else None,
        "rationale": comparison.rationale.strip(),
    }
    stored = Comparison(
        key=f"app:comparison:{user_id}:{item.id}",
        source="app",
        prompt_id=prompt_id,
        response_a_id=item.subject_id,
        response_b_id=item.subject_b_id,
        left_response_id=assignment.left_response_id,
        user_id=user_id,
        seconds_spent=(now - assignment.started_at).total_seconds(),
        created_at=now,
        **values,
    )
    session.add(stored)
    session.flush()
    close_assignment(session, assignment, item, stored.id, now)
    audit.record(
        session,
        actor_id=user_id,
        action="comparison.create",
        entity="comparison",
        entity_id=stored.id,
        after=values | {"response_a_id": item.subject_id, "response_b_id": item.subject_b_id},
    )
    return stored.id


def change_rating(session: Session, *, user_id: int, rating_id: int, rating: RatingIn) -> None:
    """A reviewer changes their own rating; the old values stay in the audit trail."""
    if problems := rating.problems():
        raise FeedbackError("; ".join(problems))
    stored = session.get(Rating, rating_id, with_for_update=True)
    if stored is None or stored.user_id != user_id:
        raise FeedbackError("You can change only your own ratings.")
    before = {name: getattr(stored, name) for name in rating.values()}
    for name, value in rating.values().items():
        setattr(stored, name, value)
    stored.updated_at = utcnow()
    session.add(stored)
    audit.record(
        session,
        actor_id=user_id,
        action="rating.update",
        entity="rating",
        entity_id=stored.id,
        before=before,
        after=rating.values(),
    )


def change_comparison(session: Session, *, user_id: int, comparison_id: int, comparison: ComparisonIn) -> None:
    """A reviewer changes their own preference (as left/right of what they were shown); the old one is audited."""
    if problems := comparison.problems():
        raise FeedbackError("; ".join(problems))
    stored = session.get(Comparison, comparison_id, with_for_update=True)
    if stored is None or stored.user_id != user_id:
        raise FeedbackError("You can change only your own comparisons.")
    pair = WorkItem(subject_id=stored.response_a_id, subject_b_id=stored.response_b_id, queue="comparison")
    after = {
        "choice": _choice(comparison.preferred, stored.left_response_id or stored.response_a_id, pair),
        "strength": comparison.strength if comparison.preferred in ("left", "right") else None,
        "rationale": comparison.rationale.strip(),
    }
    before = {name: getattr(stored, name) for name in after}
    for name, value in after.items():
        setattr(stored, name, value)
    stored.updated_at = utcnow()
    session.add(stored)
    audit.record(
        session,
        actor_id=user_id,
        action="comparison.update",
        entity="comparison",
        entity_id=stored.id,
        before=before,
        after=after,
    )

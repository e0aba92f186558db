"""Flagged answers: ratings whose reviewer flagged the answer (incorrect, unsafe, non-compliant, hallucinated
source, personal data), with the model version and the reviewer, and their triage by an expert lead: open,
confirmed or dismissed, with a note. Every change of triage is an audit event (`flag.triage` on the rating)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Text, and_, case, cast, func, select
from sqlmodel import Session

from core import audit
from core.review.spans import flagged_sentences
from core.store.models import FLAG_STATUSES, FLAGS, FlagTriage, ModelVersion, Prompt, Rating, Response, User, utcnow
from core.text import text_problems

PAGE_SIZE = 25


class FlagError(Exception):
    """A triage was refused; nothing was written. The message says why."""


@dataclass(frozen=True)
class FlaggedAnswer:
    rating_id: int
    flags: list[str]
    answer_id: int  # its model version is for leads only (core.oversight.sources)
    reviewer: str
    rated_at: datetime
    rationale: str
    question: str
    answer: str
    status: str
    note: str
    triaged_by: str | None
    triaged_at: datetime | None
    spans: list[dict] = field(default_factory=list)  # the reviewer's error spans in the answer (core.review.spans)

    @property
    def sentences(self) -> list[tuple[str, tuple[str, ...]]]:
        """The answer's flagged sentences: those a span touches, each with its spans' flags."""
        return flagged_sentences(self.answer, self.spans)


@dataclass(frozen=True)
class FlagPage:
    rows: list[FlaggedAnswer]
    total: int  # flagged ratings matching the filters


@dataclass(frozen=True)
class FlagCount:
    flag: str
    open: int
    confirmed: int
    dismissed: int


def _flagged():
    return func.json_array_length(Rating.flags) > 0


def _has_flag(flag: str):
    """The JSON list holds the flag (stored as text as written, e.g. ["incorrect", "unsafe"])."""
    return cast(Rating.flags, Text).like(f'%"{flag}"%')


def _status():
    return func.coalesce(FlagTriage.status, "open")


def flagged_answers(
    session: Session,
    *,
    status: str | None = None,
    flag: str | None = None,
    version: str | None = None,
    offset: int = 0,
    limit: int = PAGE_SIZE,
) -> FlagPage:
    """Flagged ratings, newest first, filtered by triage status, flag and model version."""
    if status is not None and status not in FLAG_STATUSES:
        raise FlagError(f"status {status!r}: one of {', '.join(FLAG_STATUSES)}")
    if flag is not None and flag not in FLAGS:
        raise FlagError(f"flag {flag!r}: one of {', '.join(FLAGS)}")
    reviewer, triager = User.__table__.alias("reviewer"), User.__table__.alias("triager")
    where = [_flagged()]
    if status is not None:
        where.append(_status() == status)
    if flag is not None:
        where.append(_has_flag(flag))
    if version is not None:
        where.append(ModelVersion.name == version)
    base = (
        select(Rating.id)
        .join(Response, Response.id == Rating.response_id)
        .join(ModelVersion, ModelVersion.id == Response.model_version_id)
        .outerjoin(FlagTriage, FlagTriage.rating_id == Rating.id)
        .where(*where)
    )
    total = session.execute(select(func.count()).select_from(base.subquery())).scalar_one()
    rows = session.execute(
        select(
            Rating,
            reviewer.c.username,
            Prompt.text,
            Response.text,
            FlagTriage,
            triager.c.username,
        )
        .join(Response, Response.id == Rating.response_id)
        .join(Prompt, Prompt.id == Response.prompt_id)
        .join(ModelVersion, ModelVersion.id == Response.model_version_id)
        .outerjoin(reviewer, reviewer.c.id == Rating.user_id)
        .outerjoin(FlagTriage, FlagTriage.rating_id == Rating.id)
        .outerjoin(triager, triager.c.id == FlagTriage.user_id)
        .where(*where)
        .order_by(Rating.created_at.desc(), Rating.id.desc())
        .offset(offset)
        .limit(limit)
    ).all()
    return FlagPage(
        [
            FlaggedAnswer(
                r.id,
                list(r.flags),
                r.response_id,
                reviewer_name or "(imported)",
                r.created_at,
                r.rationale,
                question,
                answer,
                t.status if t else "open",
                t.note if t else "",
                triager_name,
                t.updated_at if t else None,
                list(r.spans or []),
            )
            for r, reviewer_name, question, answer, t, triager_name in rows
        ],
        total,
    )


def flag_counts(session: Session) -> list[FlagCount]:
    """Per flag: flagged ratings open, confirmed and dismissed (a rating with two flags counts under both)."""
    columns = []
    for flag in FLAGS:
        for state in FLAG_STATUSES:
            columns.append(func.sum(case((and_(_has_flag(flag), _status() == state), 1), else_=0)))
    row = session.execute(
        select(*columns).select_from(Rating).outerjoin(FlagTriage, FlagTriage.rating_id == Rating.id).where(_flagged())
    ).one()
    values = [int(v or 0) for v in row]
    n = len(FLAG_STATUSES)
    return [FlagCount(flag, *values[i * n : (i + 1) * n]) for i, flag in enumerate(FLAGS)]


def flagged_versions(session: Session) -> list[str]:
    """The model versions with at least one flagged answer (for a filter)."""
    return list(
        session.execute(
            select(ModelVersion.name)
            .join(Response, Response.model_version_id == ModelVersion.id)
            .join(Rating, Rating.response_id == Response.id)
            .where(_flagged())
            .group_by(ModelVersion.name)
            .order_by(ModelVersion.name)
        ).scalars()
    )


def triage(session: Session, *, rating_id: int, status: str, note: str, actor_id: int | None) -> None:
    """Set a flagged rating's triage status with a note; the change (before and after) is an audit event."""
    if status not in FLAG_STATUSES:
        raise FlagError(f"status {status!r}: one of {', '.join(FLAG_STATUSES)}")
    note = note.strip()
    if problems := text_problems("note", note):
        raise FlagError(problems[0])
    if not note:
        raise FlagError("write a note: what you checked and why you decided so")
    rating = session.get(Rating, rating_id)
    if rating is None or not rating.flags:
        raise FlagError(f"rating {rating_id} is not flagged")
    current = session.get(FlagTriage, rating_id, with_for_update=True)
    before = {"status": current.status, "note": current.note} if current else {"status": "open", "note": ""}
    after = {"status": status, "note": note}
    if before == after:
        return
    current = current or FlagTriage(rating_id=rating_id, status=status, note=note)
    current.status, current.note, current.user_id, current.updated_at = status, note, actor_id, utcnow()
    session.add(current)
    audit.record(
        session,
        actor_id=actor_id,
        action="flag.triage",
        entity="rating",
        entity_id=rating_id,
        before=before,
        after=after | {"flags": list(rating.flags)},
    )

"""What named assignment looks like to the people it concerns: each assigned reviewer's progress (the lead's Review
queues page and `queue status --by-assignee`), the line on a reviewer's Home page, and the choices the Review queues
page offers to assign by. Read only (core.review.assignment makes and takes back assignments)."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import exists, func, select
from sqlmodel import Session

from core.auth import RULES
from core.review.assignment import ANSWER_QUEUES, due_day, known_queue
from core.review.progress import JUDGMENTS
from core.review.queues import DEFAULT_K, QUEUE_ACTIONS, WITHOUT_VERSIONS
from core.review.standing import N, W, standing
from core.store.models import Assignment, ModelVersion, ModerationItem, ModerationScore, Prompt, Response, User, utcnow


@dataclass(frozen=True)
class AssigneeProgress:
    """One reviewer's assignments in one queue, those taken back aside: open (standing), done, skipped, overdue (past
    the due day, not done) and, not shown apart, closed (finished by reviewers who held the item before)."""

    queue: str
    user: str
    assigned: int
    open: int
    done: int
    skipped: int
    overdue: int
    median_seconds: float | None  # per item done, the time the judgment took (hidden tab excluded)


@dataclass(frozen=True)
class AssignedToYou:
    """The line on a reviewer's Home page: items standing assigned to them (open items), and the first due day."""

    count: int
    per_queue: dict[str, int]
    first_due: date | None

    def line(self) -> str:
        queues = ", ".join(f"{queue} {n}" for queue, n in self.per_queue.items())
        due = f"due {self.first_due:%d %b %Y}" if self.first_due else "no due date"
        return f"Assigned to you: {self.count}, {due} ({queues})."


@dataclass(frozen=True)
class AssignChoices:
    """What the Review queues page offers to assign in a queue."""

    queue: str
    reviewers: list[str]  # active users whose role judges the queue
    topics: list[str]
    versions: list[str]
    sources: list[str]
    unassigned: int  # open items, gold aside, not standing assigned


def assignee_progress(session: Session, now: datetime | None = None) -> list[AssigneeProgress]:
    """Per queue and reviewer: their assignments (those taken back aside), by how each stands, and the median
    seconds per item done. Read only: an assignment past its due time counts as overdue whether or not its row was
    closed yet."""
    now = now or utcnow()
    overdue = (N.c.outcome == "expired") | (N.c.ended_at.is_(None) & (N.c.due_at <= now))
    counts = (
        select(
            W.c.queue,
            User.username,
            func.count().label("assigned"),
            func.count().filter(standing(now)).label("open"),
            func.count().filter(N.c.outcome == "done").label("done"),
            func.count().filter(N.c.outcome == "skipped").label("skipped"),
            func.count().filter(overdue).label("overdue"),
        )
        .select_from(N.join(W, W.c.id == N.c.work_item_id).join(User, User.id == N.c.user_id))
        .where((N.c.outcome.is_(None)) | (N.c.outcome != "taken back"))
        .group_by(W.c.queue, User.username)
    )
    seconds = _seconds_done(session)
    return [
        AssigneeProgress(
            row.queue,
            row.username,
            row.assigned,
            row.open,
            row.done,
            row.skipped,
            row.overdue,
            statistics.median(seconds[row.queue, row.username]) if seconds.get((row.queue, row.username)) else None,
        )
        for row in sorted(session.execute(counts), key=lambda r: (list(DEFAULT_K).index(r.queue), r.username))
    ]


def _seconds_done(session: Session) -> dict[tuple[str, str], list[float]]:
    """(queue, username) -> the seconds each of their assigned items done took (from their judgment)."""
    lease = Assignment.__table__
    found: dict[tuple[str, str], list[float]] = {}
    for queue, model in JUDGMENTS.items():
        judgment = model.__table__
        query = (
            select(User.username, judgment.c.seconds_spent)
            .select_from(N)
            .join(W, W.c.id == N.c.work_item_id)
            .join(lease, (lease.c.work_item_id == N.c.work_item_id) & (lease.c.user_id == N.c.user_id))
            .join(judgment, judgment.c.id == lease.c.judgment_id)
            .join(User, User.id == N.c.user_id)
            .where(N.c.outcome == "done", W.c.queue == queue, judgment.c.seconds_spent.is_not(None))
        )
        for username, spent in session.execute(query):
            found.setdefault((queue, username), []).append(spent)
    return found


def assigned_to(session: Session, user_id: int, now: datetime | None = None) -> AssignedToYou | None:
    """The reviewer's standing assignments on open items, per queue, and the first due day; None without any."""
    now = now or utcnow()
    query = (
        select(W.c.queue, func.count(), func.min(N.c.due_at))
        .select_from(N.join(W, W.c.id == N.c.work_item_id))
        .where(N.c.user_id == user_id, standing(now), W.c.open)
        .group_by(W.c.queue)
    )
    rows = sorted(session.execute(query).all(), key=lambda r: list(DEFAULT_K).index(r[0]))
    if not rows:
        return None
    dues = [due for _, _, due in rows if due is not None]
    return AssignedToYou(sum(n for _, n, _ in rows), {q: n for q, n, _ in rows}, due_day(min(dues)) if dues else None)


def assign_choices(session: Session, queue: str, now: datetime | None = None) -> AssignChoices:
    """The reviewers, topics, versions and sources the queue's open items offer, and how many stand unassigned."""
    now = now or utcnow()
    known_queue(queue)
    roles = RULES[QUEUE_ACTIONS[queue]].roles
    reviewers = session.execute(
        select(User.username).where(User.active, User.role.in_(roles)).order_by(User.username)
    ).scalars()
    waiting = (W.c.queue == queue, W.c.open, ~W.c.is_gold)
    unassigned = session.execute(
        select(func.count()).select_from(W).where(*waiting, ~exists().where(N.c.work_item_id == W.c.id, standing(now)))
    ).scalar_one()
    answer, prompt, items = Response.__table__, Prompt.__table__, ModerationItem.__table__
    topics: list[str] = []
    versions: list[str] = []
    if queue in ANSWER_QUEUES:
        of_items = prompt.join(answer, answer.c.prompt_id == prompt.c.id).join(W, W.c.subject_id == answer.c.id)
        topics = _distinct(
            session, select(prompt.c.topic).select_from(of_items).where(*waiting, prompt.c.topic.is_not(None))
        )
        sources = _distinct(session, select(prompt.c.source).select_from(of_items).where(*waiting))
        written = answer.c.id.in_([W.c.subject_id, W.c.subject_b_id])
        versions = _distinct(
            session,
            select(ModelVersion.name).where(
                exists().where(*waiting, written, answer.c.model_version_id == ModelVersion.id)
            ),
        )
    else:
        of_items = items.join(W, W.c.subject_id == items.c.id)
        sources = _distinct(session, select(items.c.source).select_from(of_items).where(*waiting))
        if queue not in WITHOUT_VERSIONS:
            scores = ModerationScore.__table__
            scored = exists().where(
                *waiting, scores.c.item_id == W.c.subject_id, scores.c.model_version_id == ModelVersion.id
            )
            versions = _distinct(session, select(ModelVersion.name).where(scored))
    return AssignChoices(queue, list(reviewers), topics, versions, sources, unassigned)


def _distinct(session: Session, query) -> list[str]:
    return sorted({value for value in session.execute(query).scalars() if value is not None})

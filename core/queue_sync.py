"""Bringing a queue's work items in line with the store: set-based SQL, run after an import or a change of settings.

- rating: one item per answer of the queue's model versions;
- comparison: one item per pair of answers to the same prompt from two different versions of the queue's versions.
Judgments already in the store (imported ones too) count towards an item's k and are never served again to their
reviewer. An item whose versions leave the queue is closed, not deleted."""

from __future__ import annotations

from sqlalchemy import Select, and_, case, exists, func, literal, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import aliased
from sqlmodel import Session

from core.models import Assignment, Comparison, ModelVersion, Rating, Response, WorkItem
from core.queues import DEFAULT_K, get_config


def _insert(session: Session):
    return sqlite_insert if session.get_bind().dialect.name == "sqlite" else pg_insert


def _version_ids(session: Session, names: list[str]) -> list[int]:
    return list(session.execute(select(ModelVersion.id).where(ModelVersion.name.in_(names))).scalars())


def _subjects(queue: str, version_ids: list[int]) -> Select:
    """(subject_id, subject_b_id, created_at) of everything the queue should hold."""
    if queue == "rating":
        return select(Response.id, literal(0), Response.created_at).where(Response.model_version_id.in_(version_ids))
    a, b = aliased(Response), aliased(Response)
    return (
        select(a.id, b.id, func.coalesce(b.created_at, a.created_at))
        .join(b, and_(b.prompt_id == a.prompt_id, b.id > a.id, b.model_version_id != a.model_version_id))
        .where(a.model_version_id.in_(version_ids), b.model_version_id.in_(version_ids))
    )


def _judgments(queue: str) -> Select:
    """(subject_id, subject_b_id, user_id, judgment id, at) of the queue's judgments made by our users."""
    if queue == "rating":
        return select(Rating.response_id, literal(0), Rating.user_id, Rating.id, Rating.created_at).where(
            Rating.user_id.is_not(None)
        )
    low = case(
        (Comparison.response_a_id < Comparison.response_b_id, Comparison.response_a_id), else_=Comparison.response_b_id
    )
    high = case(
        (Comparison.response_a_id < Comparison.response_b_id, Comparison.response_b_id), else_=Comparison.response_a_id
    )
    return select(low, high, Comparison.user_id, Comparison.id, Comparison.created_at).where(
        Comparison.user_id.is_not(None)
    )


def sync_queue(session: Session, queue: str) -> None:
    config = get_config(session, queue)
    versions = _version_ids(session, config.versions)
    insert = _insert(session)
    subjects = _subjects(queue, versions).subquery()
    session.execute(
        insert(WorkItem)
        .from_select(
            ["queue", "subject_id", "subject_b_id", "priority", "k", "done", "open", "is_gold", "created_at"],
            select(
                literal(queue),
                *subjects.c[:2],
                literal(0),
                literal(config.k),
                literal(0),
                literal(True),
                literal(False),
                subjects.c[2],
            )
            .where(literal(True))
            .order_by(subjects.c[2], subjects.c[0]),
        )
        .on_conflict_do_nothing()
    )
    judged = _judgments(queue).subquery()
    session.execute(
        insert(Assignment)
        .from_select(
            ["work_item_id", "user_id", "status", "judgment_id", "started_at", "expires_at", "updated_at"],
            select(WorkItem.id, judged.c[2], literal("done"), judged.c[3], judged.c[4], judged.c[4], judged.c[4])
            .join(judged, and_(WorkItem.subject_id == judged.c[0], WorkItem.subject_b_id == judged.c[1]))
            .where(WorkItem.queue == queue),
        )
        .on_conflict_do_nothing()
    )
    done = (
        select(func.count())
        .select_from(Assignment)
        .where(Assignment.work_item_id == WorkItem.id, Assignment.status == "done")
        .scalar_subquery()
    )
    eligible = exists(
        subjects.select().where(subjects.c[0] == WorkItem.subject_id, subjects.c[1] == WorkItem.subject_b_id)
    )
    session.execute(update(WorkItem).where(WorkItem.queue == queue).values(done=done))
    session.execute(
        update(WorkItem)
        .where(WorkItem.queue == queue)
        .values(open=and_(eligible, (WorkItem.is_gold | (WorkItem.done < WorkItem.k))))
    )


def sync_all(session: Session) -> None:
    for queue in DEFAULT_K:
        sync_queue(session, queue)

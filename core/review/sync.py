"""Bringing a queue's work items in line with the store: set-based SQL, run after an import or a change of settings.

- rating: one item per answer of the queue's model versions;
- comparison: one item per pair of answers to the same prompt from two different versions of the queue's versions;
- moderation: one item per borderline moderation item, most uncertain first (core.moderation.borderline);
- adjudication: one item per moderation item whose labels disagree.
Judgments already in the store (imported ones too) count towards an item's k and are never served again to their
reviewer. An item whose versions leave the queue is closed, not deleted. `subject_ids` limits a sync to some
subjects (a submission that changes one item's standing); without it the whole queue is rebuilt."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from contextlib import contextmanager

from sqlalchemy import (
    Column,
    FromClause,
    Index,
    Integer,
    MetaData,
    Select,
    Table,
    and_,
    case,
    exists,
    func,
    literal,
    null,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import aliased
from sqlalchemy.schema import CreateIndex, CreateTable, DropTable
from sqlmodel import Session

from core.moderation import borderline
from core.review.cursors import order_changed
from core.review.queues import DEFAULT_K, get_config
from core.store import prepared
from core.store.models import Assignment, Comparison, ModelVersion, QueueConfig, Rating, Response, WorkItem

# Queues whose items' priorities follow the store (the others keep theirs: 0, or what someone set).
RANKED = ("moderation",)


def _insert(run: prepared.Runner):
    return sqlite_insert if run.dialect.name == "sqlite" else pg_insert


def _version_ids(run: prepared.Runner, names: list[str]) -> list[int]:
    return [row.id for row in run.execute(select(ModelVersion.id).where(ModelVersion.name.in_(names)))]


def _subjects(run: prepared.Runner, queue: str, config: QueueConfig) -> Select:
    """(subject_id, subject_b_id, created_at, priority, version_a_id, version_b_id) of everything the queue should
    hold; the versions of a pair's answers (None outside the comparison queue)."""
    if queue == "moderation":
        return _no_versions(borderline.borderline_subjects(run, config))
    if queue == "adjudication":
        return _no_versions(borderline.disagreement_subjects())
    version_ids = _version_ids(run, config.versions)
    if queue == "rating":
        return _no_versions(
            select(Response.id, literal(0), Response.created_at, literal(0)).where(
                Response.model_version_id.in_(version_ids)
            )
        )
    a, b = aliased(Response), aliased(Response)
    return (
        select(
            a.id, b.id, func.coalesce(b.created_at, a.created_at), literal(0), a.model_version_id, b.model_version_id
        )
        .join(b, and_(b.prompt_id == a.prompt_id, b.id > a.id, b.model_version_id != a.model_version_id))
        .where(a.model_version_id.in_(version_ids), b.model_version_id.in_(version_ids))
    )


def _no_versions(subjects: Select) -> Select:
    return subjects.add_columns(null().cast(Integer), null().cast(Integer))


def _judgments(queue: str) -> Select:
    """(subject_id, subject_b_id, user_id, judgment id, at) of the queue's judgments made by our users."""
    if queue == "moderation":
        return borderline.label_judgments()
    if queue == "adjudication":
        return borderline.adjudication_judgments()
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


def sync_queue(store: Session | prepared.Runner, queue: str, subject_ids: Collection[int] | None = None) -> None:
    """Bring the queue's items in line with the store, in the caller's transaction: a Session's, or the write path's
    (a label or an adjudication changes one item's standing)."""
    run = prepared.on(store)
    config = get_config(run, queue)
    wanted = _subjects(run, queue, config)
    if subject_ids is not None:
        ids = list(subject_ids)
        wanted = wanted.where(wanted.selected_columns[0].in_(ids))
        _sync(run, queue, config, wanted.subquery(), [WorkItem.queue == queue, WorkItem.subject_id.in_(ids)])
        return
    with _held(run, wanted) as subjects:
        _sync(run, queue, config, subjects, [WorkItem.queue == queue])


@contextmanager
def _held(run: prepared.Runner, wanted: Select) -> Iterator[Table]:
    """The subjects computed once into a temporary table (indexed on the subject) for the statements of a whole
    rebuild, which would otherwise each run the query again: at a million moderation items a pass over every score.
    Dropped afterwards; on an error the rollback takes it away."""
    table = Table(
        "sync_subjects",
        MetaData(),
        Column("subject_id", Integer, nullable=False),
        Column("subject_b_id", Integer, nullable=False),
        Column("created_at", wanted.selected_columns[2].type),
        Column("priority", Integer, nullable=False),
        Column("version_a_id", Integer),
        Column("version_b_id", Integer),
        prefixes=["TEMPORARY"],
    )
    index = Index("ix_sync_subjects", table.c.subject_id, table.c.subject_b_id)
    for ddl in (CreateTable(table), CreateIndex(index)):
        run.driver_sql(str(ddl.compile(dialect=run.dialect)))
    run.execute(table.insert().from_select(list(table.c.keys()), wanted))
    if run.dialect.name == "postgresql":
        run.driver_sql("ANALYZE sync_subjects")  # autovacuum never analyses temporary tables
    yield table
    run.driver_sql(str(DropTable(table).compile(dialect=run.dialect)))


def _sync(run: prepared.Runner, queue: str, config: QueueConfig, subjects: FromClause, in_queue: list) -> None:
    """Insert the missing items, re-rank, count the judgments in the store, open and close (see the docstring). A
    change of the queue's order distrusts the reviewers' cursors (core.review.queues)."""
    insert = _insert(run)
    reordered = 0
    run.execute(
        insert(WorkItem)
        .from_select(
            [
                "queue",
                "subject_id",
                "subject_b_id",
                "priority",
                "k",
                "done",
                "open",
                "is_gold",
                "created_at",
                "version_a_id",
                "version_b_id",
            ],
            select(
                literal(queue),
                *subjects.c[:2],
                subjects.c[3],
                literal(config.k),
                literal(0),
                literal(True),
                literal(False),
                subjects.c[2],
                *subjects.c[4:6],
            )
            .where(literal(True))
            .order_by(subjects.c[2], subjects.c[0]),
        )
        .on_conflict_do_nothing()
    )
    reordered += run.changed()
    if queue in RANKED:
        run.execute(
            update(WorkItem)
            .where(
                *in_queue,
                WorkItem.subject_id == subjects.c[0],
                WorkItem.subject_b_id == subjects.c[1],
                WorkItem.priority != subjects.c[3],
            )
            .values(priority=subjects.c[3])
        )
        reordered += run.changed()
    judged = _judgments(queue).subquery()
    run.execute(
        insert(Assignment)
        .from_select(
            ["work_item_id", "user_id", "status", "judgment_id", "started_at", "expires_at", "updated_at"],
            select(WorkItem.id, judged.c[2], literal("done"), judged.c[3], judged.c[4], judged.c[4], judged.c[4])
            .join(judged, and_(WorkItem.subject_id == judged.c[0], WorkItem.subject_b_id == judged.c[1]))
            .where(*in_queue),
        )
        .on_conflict_do_nothing()
    )
    done = (
        select(func.count())
        .select_from(Assignment)
        .where(Assignment.work_item_id == WorkItem.id, Assignment.status == "done")
        .scalar_subquery()
    )
    run.execute(update(WorkItem).where(*in_queue, WorkItem.done != done).values(done=done))
    eligible = exists(
        subjects.select().where(subjects.c[0] == WorkItem.subject_id, subjects.c[1] == WorkItem.subject_b_id)
    )
    is_open = and_(eligible, (WorkItem.is_gold | (WorkItem.done < WorkItem.k)))
    run.execute(update(WorkItem).where(*in_queue, WorkItem.open != is_open).values(open=is_open))
    if reordered + run.changed():
        order_changed(run, queue)


def sync_all(store: Session | prepared.Runner) -> None:
    for queue in DEFAULT_K:
        sync_queue(store, queue)

"""Where a reviewer's search for their next item starts, so that it does not walk past every item they judged.

A queue serves its open items in the order of `ix_work_item_next` (priority, highest first, then id). With k above
one, the items a reviewer judged stay open until others judge them too, and a search from the top of the queue steps
past each of them: a reviewer ahead of the others pays for their whole history on every next item. Each reviewer's
cursor marks their first open item (gold aside) that they have not judged or skipped: everything before it in the
queue's order is theirs already, so the search starts there. The invariant holds as long as the order stands: a sync
that adds, reopens, closes or re-ranks items bumps the queue's generation (`order_changed`), and a cursor saved at an
older generation is not trusted: that search starts from the top once and saves a new cursor.

On PostgreSQL the generation is read before the search, so a change committed meanwhile, which the search may not
have seen, leaves the saved cursor at the older generation. On SQLite the write transaction serialises everything."""

from __future__ import annotations

from functools import cache

from sqlalchemy import ColumnElement, Select, and_, bindparam, exists, select, true
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from core.store import prepared
from core.store.models import Assignment, ModerationLabel, QueueCursor, QueueOrder, WorkItem

A, W = Assignment.__table__, WorkItem.__table__
CURSOR, ORDER = QueueCursor.__table__, QueueOrder.__table__
# From a cursor (priority, id) on, the queue's order is two ranges of its index: the rest of that priority, then the
# lower priorities.
BANDS = ("same", "lower")
TOP = {"from_priority": 2**31 - 1, "from_id": 0}  # before every item: priorities are 32-bit integers
END = {"from_priority": -(2**31), "from_id": 0}  # after every item
_CURSOR_VALUES = ("queue", "user_id", "generation", "priority", "item_id")


def seen_by(queue: str, user_id) -> ColumnElement[bool]:
    """The work items of this queue a reviewer may no longer take: those they judged or skipped, and on adjudication
    those whose disagreement they are part of (their own label on the item, made here or imported)."""
    seen = exists().where(A.c.work_item_id == W.c.id, A.c.user_id == user_id, A.c.status != "leased")
    if queue == "adjudication":
        labels = ModerationLabel.__table__
        seen = seen | exists().where(labels.c.item_id == W.c.subject_id, labels.c.user_id == user_id)
    return seen


def band(name: str | None) -> ColumnElement[bool]:
    """One range of the queue's order from the cursor on (values: from_priority, from_id); None: the whole queue."""
    priority, item_id = bindparam("from_priority"), bindparam("from_id")
    if name == "same":
        return and_(W.c.priority == priority, W.c.id >= item_id)
    return W.c.priority < priority if name == "lower" else true()


def first(run: prepared.Runner, statement, bands: tuple, values: dict) -> tuple | None:
    """The first row of `statement(band)` over the bands in order."""
    for name in bands:
        row = run.first(statement(name), values)
        if row is not None:
            return row
    return None


def start(run: prepared.Runner, queue: str, user_id: int) -> dict | None:
    """Where the reviewer's search starts (from_priority, from_id): their first open item (gold aside) not judged or
    skipped, found from their cursor on and saved as the new cursor; None when there is none (the cursor is then
    saved past the end)."""
    key = {"queue": queue, "user_id": user_id}
    saved = run.first(_cursor_statement(), key)
    generation = run.scalar(_generation_statement(), key) or 0
    trusted = saved is not None and saved.generation == generation
    origin = {"from_priority": saved.priority, "from_id": saved.item_id} if trusted else TOP
    found = first(run, lambda name: _unseen_statement(queue, name), BANDS, key | origin)
    new = END if found is None else {"from_priority": found.priority, "from_id": found.id}
    if not trusted or origin != new:
        values = key | {"generation": generation, "priority": new["from_priority"], "item_id": new["from_id"]}
        run.rows(_save_statement(run.dialect.name), values)
    return None if found is None else new


def order_changed(run: prepared.Runner, queue: str) -> None:
    """Distrust every reviewer's cursor in the queue: a sync added, reopened, closed or re-ranked items (in its own
    transaction)."""
    run.rows(_bump_statement(run.dialect.name), {"queue": queue})


@cache
def _unseen_statement(queue: str, name: str) -> Select:
    """The first open item (gold aside) the reviewer has not judged or skipped, in one band (values: queue, user_id,
    from_priority, from_id)."""
    return (
        select(W.c.priority, W.c.id)
        .where(W.c.queue == bindparam("queue"), W.c.open, ~W.c.is_gold, ~seen_by(queue, bindparam("user_id")))
        .where(band(name))
        .order_by(W.c.priority.desc(), W.c.id)
        .limit(1)
    )


@cache
def _cursor_statement() -> Select:
    """The reviewer's saved cursor in the queue (values: queue, user_id)."""
    mine = and_(CURSOR.c.queue == bindparam("queue"), CURSOR.c.user_id == bindparam("user_id"))
    return select(CURSOR.c.generation, CURSOR.c.priority, CURSOR.c.item_id).where(mine)


@cache
def _generation_statement() -> Select:
    """The queue's order generation (value: queue); no row is generation 0."""
    return select(ORDER.c.generation).where(ORDER.c.queue == bindparam("queue"))


def _insert(dialect: str):
    return sqlite_insert if dialect == "sqlite" else pg_insert


@cache
def _save_statement(dialect: str):
    """Save a reviewer's cursor (values: queue, user_id, generation, priority, item_id)."""
    statement = _insert(dialect)(CURSOR).values({c: bindparam(c) for c in _CURSOR_VALUES})
    return statement.on_conflict_do_update(
        index_elements=[CURSOR.c.queue, CURSOR.c.user_id],
        set_={c: statement.excluded[c] for c in _CURSOR_VALUES[2:]},
    )


@cache
def _bump_statement(dialect: str):
    """The queue's order generation, one up (value: queue)."""
    statement = _insert(dialect)(ORDER).values(queue=bindparam("queue"), generation=1)
    return statement.on_conflict_do_update(index_elements=[ORDER.c.queue], set_={"generation": ORDER.c.generation + 1})

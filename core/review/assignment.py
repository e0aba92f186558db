"""Named assignment: a lead gives open work items of a queue to named reviewers, by a due day, and takes them back;
each reviewer's progress on them; the line on a reviewer's Home page. What a standing assignment does to the queue
(its item goes to its reviewer first, to nobody else) is in core.review.standing.

Every assignment and every one taken back is an audit event on its work item (`work_item.assign`,
`work_item.take_back`), so it shows in the item's history. An assignment past its due time stands no more at once;
its row is closed as "expired" the next time anyone assigns or takes back."""

from __future__ import annotations

import re
import statistics
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import ColumnElement, exists, func, literal, select, update
from sqlmodel import Session

from core import audit
from core.auth import ROLE_NAMES, RULES
from core.review.cursors import seen_by
from core.review.progress import JUDGMENTS
from core.review.queues import DEFAULT_K, QUEUE_ACTIONS, WITHOUT_VERSIONS, QueueError
from core.review.standing import N, W, standing
from core.store.models import Assignment, ModelVersion, ModerationItem, ModerationScore, Prompt, Response, User, utcnow

ANSWER_QUEUES = ("rating", "comparison")  # their items are answers to prompts, which have a topic and a source


@dataclass(frozen=True)
class Assigned:
    """What one assignment did: items per reviewer, in the order they were named."""

    queue: str
    per_reviewer: dict[str, int]
    due: date | None

    @property
    def total(self) -> int:
        return sum(self.per_reviewer.values())

    def summary(self) -> str:
        each = ", ".join(f"{name} {n}" for name, n in self.per_reviewer.items())
        when = f"; due {self.due:%d %b %Y}" if self.due else ""
        return f"Assigned {_items(self.total)} of {self.queue}: {each}{when}."


@dataclass(frozen=True)
class TakenBack:
    queue: str
    per_reviewer: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.per_reviewer.values())

    def summary(self) -> str:
        each = ", ".join(f"{name} {n}" for name, n in self.per_reviewer.items())
        return f"Took back {_items(self.total)} of {self.queue} ({each}): back in the pool."


@dataclass(frozen=True)
class AssigneeProgress:
    """One reviewer's assignments in one queue, those taken back aside: assigned = open + done + skipped + overdue
    (closed: finished by others first). Overdue: past the due day and not done."""

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


def _items(n: int) -> str:
    return f"{n} item" if n == 1 else f"{n:,} items"


def due_time(day: date | None, now: datetime) -> datetime | None:
    """An assignment due on `day` runs to the end of that day (UTC); a day before today is refused."""
    if day is None:
        return None
    if day < now.astimezone(UTC).date():
        raise QueueError(f"The due day {day:%Y-%m-%d} is in the past: give today or a later day.")
    return datetime.combine(day + timedelta(days=1), time(), UTC)


def due_day(due_at: datetime | None) -> date | None:
    """The day an assignment is due (its due time is the end of that day)."""
    return None if due_at is None else (due_at.astimezone(UTC) - timedelta(days=1)).date()


def read_ids(text: str, where: str = "the file") -> list[int]:
    """Work item ids from a file: whole numbers separated by commas, spaces or lines; lines starting with # are
    comments. Repeated ids count once. A bad value is refused with its line."""
    found: dict[int, None] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if line.lstrip().startswith("#"):
            continue
        for value in filter(None, re.split(r"[\s,;]+", line)):
            if not value.isdigit():
                raise QueueError(f"{where}, line {number}: {value[:40]!r} is not a work item id (a whole number).")
            found[int(value)] = None
    if not found:
        raise QueueError(f"{where} holds no work item ids: write one per line.")
    return list(found)


def _known(queue: str) -> None:
    if queue not in DEFAULT_K:
        raise QueueError(f"unknown queue {queue!r}; queues: {', '.join(DEFAULT_K)}")


def _reviewers(session: Session, queue: str, usernames: list[str]) -> list[User]:
    """The named users, in the order named (once each); refused: unknown, inactive, or of a role that does not judge
    the queue."""
    names = list(dict.fromkeys(usernames))
    if not names:
        raise QueueError("Name at least one reviewer.")
    found = {u.username: u for u in session.execute(select(User).where(User.username.in_(names))).scalars()}
    if unknown := [name for name in names if name not in found]:
        raise QueueError(f"No user named {', '.join(map(repr, unknown))}: check the spelling (users list).")
    if inactive := [name for name in names if not found[name].active]:
        raise QueueError(f"{', '.join(map(repr, inactive))}: inactive account; an admin can activate it.")
    roles = RULES[QUEUE_ACTIONS[queue]].roles
    if wrong := [name for name in names if found[name].role not in roles]:
        judges = ", ".join(ROLE_NAMES[role] for role in roles)
        said = ", ".join(f"{name!r} is {found[name].role}" for name in wrong)
        raise QueueError(f"{said}: only {judges} judge the {queue} queue.")
    return [found[name] for name in names]


def _filters(
    session: Session, queue: str, topic: str | None, version: str | None, source: str | None
) -> list[ColumnElement[bool]]:
    """Conditions on a work item (W) for the chosen topic, model version and source."""
    answer, prompt = Response.__table__, Prompt.__table__
    found = []
    if topic or (source and queue in ANSWER_QUEUES):
        if queue not in ANSWER_QUEUES:
            raise QueueError(f"Items of the {queue} queue have no topic: leave the topic out.")
        of_prompt = [prompt.c.topic == topic] if topic else []
        of_prompt += [prompt.c.source == source] if source else []
        found.append(exists().where(answer.c.id == W.c.subject_id, prompt.c.id == answer.c.prompt_id, *of_prompt))
    elif source:
        items = ModerationItem.__table__
        found.append(exists().where(items.c.id == W.c.subject_id, items.c.source == source))
    if version:
        if queue in WITHOUT_VERSIONS:
            raise QueueError(f"The {queue} queue serves no model versions: leave the version out.")
        version_id = session.execute(select(ModelVersion.id).where(ModelVersion.name == version)).scalar()
        if version_id is None:
            raise QueueError(f"No model version named {version!r}: see the model versions on the Data page.")
        if queue in ANSWER_QUEUES:  # an answer of the version (either of a pair)
            written = answer.c.id.in_([W.c.subject_id, W.c.subject_b_id])
            found.append(exists().where(written, answer.c.model_version_id == version_id))
        else:  # a moderation item the version scored
            scores = ModerationScore.__table__
            found.append(exists().where(scores.c.item_id == W.c.subject_id, scores.c.model_version_id == version_id))
    return found


def _close_expired(session: Session, now: datetime) -> None:
    """Assignments past their due time, closed as expired (they stand no more already): the standing index then
    takes their items again."""
    expired = update(N).where(N.c.ended_at.is_(None), N.c.due_at <= now)
    session.execute(expired.values(ended_at=N.c.due_at, outcome="expired"))


def _deal(rows: list, reviewers: list[User]) -> list[tuple[int, User]]:
    """Round robin: each item (id, then one seen flag per reviewer) to the reviewer with the fewest so far among
    those who have not judged or skipped it, in the order named."""
    given: Counter[int] = Counter()
    dealt = []
    for item_id, *seen in rows:
        eligible = [reviewer for reviewer, was_seen in zip(reviewers, seen, strict=True) if not was_seen]
        if eligible:
            chosen = min(eligible, key=lambda reviewer: given[reviewer.id])
            given[chosen.id] += 1
            dealt.append((item_id, chosen))
    return dealt


def _numbers(ids: list[int]) -> str:
    shown = ", ".join(map(str, ids[:10]))
    return shown + (f" and {len(ids) - 10} more" if len(ids) > 10 else "")


def _listed(session: Session, queue: str, ids: list[int], reviewers: list[User]) -> list:
    """The items of a file of ids, in its order, as _deal takes them; refused: an id that is not an open item of
    the queue (gold aside), one assigned already, one every reviewer named judged or skipped."""
    seen = [seen_by(queue, literal(r.id)).label(f"seen_{n}") for n, r in enumerate(reviewers)]
    holder = (
        select(User.username).join(N, N.c.user_id == User.id).where(N.c.work_item_id == W.c.id, N.c.ended_at.is_(None))
    )
    query = select(W.c.id, holder.scalar_subquery().label("holder"), *seen)
    query = query.where(W.c.id.in_(ids), W.c.queue == queue, W.c.open, ~W.c.is_gold)
    rows = {row.id: row for row in session.execute(query)}
    if missing := [i for i in ids if i not in rows]:
        raise QueueError(f"Not open items of the {queue} queue: {_numbers(missing)}. Nothing was assigned.")
    if held := [i for i in ids if rows[i].holder is not None]:
        holders = ", ".join(sorted({rows[i].holder for i in held}))
        raise QueueError(
            f"Assigned already (to {holders}): {_numbers(held)}. Take them back first; nothing was assigned."
        )
    if done := [i for i in ids if all(rows[i][2:])]:
        raise QueueError(
            f"Judged or skipped already by {', '.join(r.username for r in reviewers)}: {_numbers(done)}. "
            "Nothing was assigned."
        )
    return [(i, *rows[i][2:]) for i in ids]


def _chosen(session: Session, queue: str, reviewers: list[User], filters: list) -> list:
    """The open, unassigned items matching the filters, in the queue's order, as _deal takes them."""
    seen = [seen_by(queue, literal(r.id)).label(f"seen_{n}") for n, r in enumerate(reviewers)]
    unassigned = ~exists().where(N.c.work_item_id == W.c.id, N.c.ended_at.is_(None))
    query = select(W.c.id, *seen).where(W.c.queue == queue, W.c.open, ~W.c.is_gold, unassigned, *filters)
    return session.execute(query.order_by(W.c.priority.desc(), W.c.id)).all()


def assign(
    session: Session,
    *,
    queue: str,
    usernames: list[str],
    actor_id: int | None,
    count: int | None = None,
    topic: str | None = None,
    version: str | None = None,
    source: str | None = None,
    ids: list[int] | None = None,
    due: date | None = None,
    now: datetime | None = None,
) -> Assigned:
    """Assign open items of the queue to the named reviewers, round robin: those of a file of ids, or `count` of
    those matching topic, model version and source (all of them without a count), in the queue's order. Refused
    with the reason, and nothing changed, on any bad input (see the checks below)."""
    now = now or utcnow()
    _known(queue)
    reviewers = _reviewers(session, queue, usernames)
    due_at = due_time(due, now)
    if count is not None and count < 1:
        raise QueueError("The count must be 1 or more.")
    if ids is not None and (count is not None or topic or version or source):
        raise QueueError("Choose the items by a file of ids, or by count, topic, version and source: not both.")
    _close_expired(session, now)
    if ids is not None:
        dealt = _deal(_listed(session, queue, ids, reviewers), reviewers)
    else:
        filters = _filters(session, queue, topic, version, source)
        dealt = _deal(_chosen(session, queue, reviewers, filters), reviewers)
        if not dealt or (count is not None and count > len(dealt)):
            chosen = ", ".join(
                f"{k} {v!r}" for k, v in (("topic", topic), ("version", version), ("source", source)) if v
            )
            what = f"{queue} items" + (f" of {chosen}" if chosen else "")
            raise QueueError(
                f"There are {len(dealt):,} open, unassigned {what} that {', '.join(r.username for r in reviewers)} "
                f"did not judge or skip" + (f": ask for {len(dealt):,} or fewer." if dealt else ".")
            )
        dealt = dealt[:count]
    per_reviewer = dict.fromkeys((r.username for r in reviewers), 0)
    for item_id, reviewer in dealt:
        values = {"work_item_id": item_id, "user_id": reviewer.id, "assigned_by": actor_id, "assigned_at": now}
        assignment_id = session.execute(N.insert().values(values | {"due_at": due_at}).returning(N.c.id)).scalar_one()
        after = {"queue": queue, "assignee": reviewer.username, "due": str(due) if due else None}
        audit.record(
            session,
            actor_id=actor_id,
            action="work_item.assign",
            entity="work_item",
            entity_id=item_id,
            after=after | {"assignment_id": assignment_id},
        )
        per_reviewer[reviewer.username] += 1
    return Assigned(queue, per_reviewer, due)


def unassign(
    session: Session,
    *,
    queue: str,
    usernames: list[str],
    actor_id: int | None,
    ids: list[int] | None = None,
    now: datetime | None = None,
) -> TakenBack:
    """Take back the named reviewers' standing assignments in the queue (those of a file of ids, or all): the items
    go back to the pool. Refused, nothing changed: an unknown user, an id not standing assigned to one of them."""
    now = now or utcnow()
    _known(queue)
    names = list(dict.fromkeys(usernames))
    if not names:
        raise QueueError("Name at least one reviewer to take assignments back from.")
    users = {u.username: u for u in session.execute(select(User).where(User.username.in_(names))).scalars()}
    if unknown := [name for name in names if name not in users]:
        raise QueueError(f"No user named {', '.join(map(repr, unknown))}: check the spelling (users list).")
    _close_expired(session, now)
    by_id = {users[name].id: name for name in names}
    query = select(N.c.id, N.c.work_item_id, N.c.user_id).join(W, W.c.id == N.c.work_item_id)
    query = query.where(N.c.user_id.in_(by_id), N.c.ended_at.is_(None), W.c.queue == queue)
    if ids is not None:
        query = query.where(N.c.work_item_id.in_(ids))
    rows = session.execute(query.order_by(N.c.id)).all()
    if ids is not None and (missing := sorted(set(ids) - {row.work_item_id for row in rows})):
        raise QueueError(
            f"Not assigned in {queue} to {', '.join(names)} now: {_numbers(missing)}. Nothing was taken back."
        )
    if not rows:
        raise QueueError(f"{', '.join(names)} hold no assignment in the {queue} queue: nothing to take back.")
    per_reviewer = dict.fromkeys(names, 0)
    for row in rows:
        ended = update(N).where(N.c.id == row.id).values(ended_at=now, outcome="taken back")
        session.execute(ended)
        audit.record(
            session,
            actor_id=actor_id,
            action="work_item.take_back",
            entity="work_item",
            entity_id=row.work_item_id,
            before={"queue": queue, "assignee": by_id[row.user_id], "assignment_id": row.id},
            after={"outcome": "taken back"},
        )
        per_reviewer[by_id[row.user_id]] += 1
    return TakenBack(queue, per_reviewer)


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
    _known(queue)
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

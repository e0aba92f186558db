"""Named assignment: a lead gives open work items of a queue to named reviewers, by a due day, and takes them back.
What a standing assignment does to the queue (its item goes to its reviewer first, to nobody else) is in
core.review.standing; the reviewers' progress and the Home page's line in core.review.assignee_progress.

Every assignment and every one taken back is an audit event on its work item (`work_item.assign`,
`work_item.take_back`), so it shows in the item's history. An assignment past its due time stands no more at once;
its row is closed as "expired" the next time anyone assigns or takes back."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import ColumnElement, exists, literal, select, update
from sqlmodel import Session

from core import audit
from core.auth import ROLE_NAMES, RULES
from core.review.cursors import seen_by
from core.review.queues import DEFAULT_K, QUEUE_ACTIONS, WITHOUT_VERSIONS, QueueError
from core.review.standing import N, W
from core.store.models import ModelVersion, ModerationItem, ModerationScore, Prompt, Response, User, utcnow

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


def known_queue(queue: str) -> None:
    """Refuse a queue that does not exist, naming those that do."""
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
    known_queue(queue)
    reviewers = _reviewers(session, queue, usernames)
    due_at = due_time(due, now)
    if count is not None and count < 1:
        raise QueueError("The count must be 1 or more.")
    if ids is not None and not ids:
        raise QueueError("The file holds no work item ids: write one per line.")
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
    known_queue(queue)
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

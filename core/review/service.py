"""What the review pages and the CLI call: one function per action, each checked against the rule table and run in
its own transaction. Every judgment goes through the one write path (core.review.judgments) on a write_scope."""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from core.auth import UserPublic, guarded
from core.moderation import labels
from core.moderation.labels import AdjudicationIn, LabelIn
from core.review import active, assignment, gold, judgments, progress, qualification, queues, settings, views
from core.review import assignee_progress as assignees
from core.review.assignee_progress import AssignChoices, AssigneeProgress
from core.review.assignment import Assigned, TakenBack
from core.review.judgments import ComparisonIn, RatingIn
from core.review.progress import Progress
from core.review.qualification import Gate, GoldFeedback, Standing
from core.review.queues import QUEUE_ACTIONS, QueueError
from core.review.settings import QueueOverview, QueueSettings
from core.review.views import ItemView, LastComparison, LastLabel, LastRating
from core.store import prepared
from core.store.db import session_scope, write_scope
from core.store.models import utcnow

log = logging.getLogger("core.review.service")


@guarded(QUEUE_ACTIONS)
def next_item(*, actor: UserPublic, queue: str, engine: Engine | None = None) -> ItemView | None:
    """The item the reviewer holds in the queue, or a new lease on the best free one; None when nothing is left."""
    with write_scope(engine) as run:
        lease = queues.next_item(run, queue=queue, user_id=actor.id)
        return None if lease is None else views.item_view(run, lease)


@guarded("review.rate")
def rate(
    *, actor: UserPublic, assignment_id: int, rating: RatingIn, hidden_seconds: float = 0, engine: Engine | None = None
) -> int:
    """Store the rating of the leased answer; returns its id (the same id for a repeated submission).
    `hidden_seconds`, here and below: how long the reviewer's tab was hidden while the item was shown, which does
    not count as time spent on it."""
    with write_scope(engine) as run:
        return judgments.submit_rating(
            run, user_id=actor.id, assignment_id=assignment_id, rating=rating, hidden_seconds=hidden_seconds
        )


@guarded("review.compare")
def compare(
    *,
    actor: UserPublic,
    assignment_id: int,
    comparison: ComparisonIn,
    hidden_seconds: float = 0,
    engine: Engine | None = None,
) -> int:
    """Store the preference for the leased pair; returns its id. Every active.EVERY-th comparison re-plans the
    queue's order (core.review.active) in a transaction of its own, after this one: should that fail, the reviewer
    sees no error for a comparison that was stored; it is logged and the next due refresh plans again."""
    with write_scope(engine) as run:
        judgment_id = judgments.submit_comparison(
            run, user_id=actor.id, assignment_id=assignment_id, comparison=comparison, hidden_seconds=hidden_seconds
        )
    if active.due(judgment_id):
        try:
            with session_scope(engine, write=True) as session:
                active.refresh(session)
        except Exception:  # whatever failed, the old order serves until the next refresh
            log.exception("comparison %d is stored, but re-planning the comparison queue failed", judgment_id)
    return judgment_id


@guarded("review.label")
def label(
    *, actor: UserPublic, assignment_id: int, label: LabelIn, hidden_seconds: float = 0, engine: Engine | None = None
) -> int:
    with write_scope(engine) as run:
        return labels.submit_label(
            run, user_id=actor.id, assignment_id=assignment_id, label=label, hidden_seconds=hidden_seconds
        )


@guarded("review.adjudicate")
def adjudicate(
    *,
    actor: UserPublic,
    assignment_id: int,
    adjudication: AdjudicationIn,
    hidden_seconds: float = 0,
    engine: Engine | None = None,
) -> int:
    with write_scope(engine) as run:
        return labels.submit_adjudication(
            run, user_id=actor.id, assignment_id=assignment_id, adjudication=adjudication, hidden_seconds=hidden_seconds
        )


@guarded(QUEUE_ACTIONS)
def skip(
    *, actor: UserPublic, queue: str, assignment_id: int, reason: str | None = None, engine: Engine | None = None
) -> None:
    """Pass on the leased item, with an optional reason: it goes back to the others and never comes back to this
    reviewer."""
    with write_scope(engine) as run:
        queues.skip(run, queue=queue, assignment_id=assignment_id, user_id=actor.id, reason=reason)


@guarded(QUEUE_ACTIONS)
def progress_in(*, actor: UserPublic, queue: str, engine: Engine | None = None) -> Progress:
    """The reviewer's judgments of the queue today and the items left for them."""
    with write_scope(engine, write=False) as run:
        return progress.progress(run, actor.id, queue)


@guarded(QUEUE_ACTIONS)
def last_judgment(
    *, actor: UserPublic, queue: str, judgment_id: int | None = None, engine: Engine | None = None
) -> LastRating | LastComparison | LastLabel | None:
    """The reviewer's latest judgment in the queue (or their judgment `judgment_id`), to reopen and change."""
    with write_scope(engine, write=False) as run:
        return views.last_view(run, actor.id, queue, judgment_id)


@guarded(QUEUE_ACTIONS)
def recent_judgments(
    *, actor: UserPublic, queue: str, engine: Engine | None = None
) -> list[LastRating | LastComparison | LastLabel]:
    """The reviewer's last 20 judgments in the queue, newest first, to reopen and change."""
    with write_scope(engine, write=False) as run:
        return views.recent_views(run, actor.id, queue)


@guarded("review.rate")
def change_rating(*, actor: UserPublic, rating_id: int, rating: RatingIn, engine: Engine | None = None) -> None:
    """Change one's own rating; the earlier values stay in the audit trail."""
    with write_scope(engine) as run:
        judgments.change_rating(run, user_id=actor.id, rating_id=rating_id, rating=rating)


@guarded("review.compare")
def change_comparison(
    *, actor: UserPublic, comparison_id: int, comparison: ComparisonIn, engine: Engine | None = None
) -> None:
    with write_scope(engine) as run:
        judgments.change_comparison(run, user_id=actor.id, comparison_id=comparison_id, comparison=comparison)


@guarded("review.label")
def change_label(*, actor: UserPublic, label_id: int, label: LabelIn, engine: Engine | None = None) -> None:
    with write_scope(engine) as run:
        labels.change_label(run, user_id=actor.id, label_id=label_id, label=label)


@guarded("queue.read")
def queue_overview(*, actor: UserPublic, engine: Engine | None = None) -> QueueOverview:
    """Every queue's state and settings, and the versions each can serve."""
    with session_scope(engine) as session:
        return settings.queue_overview(session)


@guarded("queue.configure")
def configure_queue(
    *,
    actor: UserPublic,
    queue: str,
    versions: list[str] | None = None,
    k: int | None = None,
    gold_share: float | None = None,
    lease_minutes: int | None = None,
    per_dimension: bool | None = None,
    strategy: str | None = None,
    prefer_uncertain: bool | None = None,
    engine: Engine | None = None,
) -> QueueSettings:
    """Save a queue's settings (audited) and bring its work items in line; raises QueueError when refused."""
    with session_scope(engine, write=True) as session:
        config = settings.configure(
            session,
            queue=queue,
            actor_id=actor.id,
            versions=versions,
            k=k,
            gold_share=gold_share,
            lease_minutes=lease_minutes,
            per_dimension=per_dimension,
            strategy=strategy,
            prefer_uncertain=prefer_uncertain,
        )
        return settings.settings_of(config)


@guarded("queue.gold")
def mark_gold(*, actor: UserPublic, work_item_id: int, answer: dict[str, Any], engine: Engine | None = None) -> None:
    """Make a work item a gold item with its known answer (audited)."""
    with session_scope(engine, write=True) as session:
        settings.mark_gold(session, work_item_id=work_item_id, answer=answer, actor_id=actor.id)


@guarded("queue.gold")
def gold_candidates(*, actor: UserPublic, queue: str, engine: Engine | None = None) -> list[gold.GoldCandidate]:
    """Items of the queue to make gold: the last judged first (their latest judgment as the suggested answer)."""
    with session_scope(engine) as session:
        return gold.gold_candidates(session, queue)


@guarded("queue.assign")
def assign(
    *,
    actor: UserPublic,
    queue: str,
    to: list[str],
    count: int | None = None,
    topic: str | None = None,
    version: str | None = None,
    source: str | None = None,
    ids: list[int] | None = None,
    due: date | None = None,
    engine: Engine | None = None,
) -> Assigned:
    """Assign open items of the queue to named reviewers, round robin, with an optional due day (audited per item);
    raises QueueError, nothing changed, when refused. On PostgreSQL another lead assigning some of the same items at
    the same moment makes this one fail whole (the standing index holds one assignment per item): try again."""
    try:
        with session_scope(engine, write=True) as session:
            return assignment.assign(
                session,
                queue=queue,
                usernames=to,
                actor_id=actor.id,
                count=count,
                topic=topic,
                version=version,
                source=source,
                ids=ids,
                due=due,
            )
    except IntegrityError as error:
        if "named_assignment" not in str(error.orig):
            raise
        raise QueueError(
            "Another lead assigned some of these items at the same moment: nothing was assigned. Try again."
        ) from error


@guarded("queue.assign")
def unassign(
    *, actor: UserPublic, queue: str, users: list[str], ids: list[int] | None = None, engine: Engine | None = None
) -> TakenBack:
    """Take back the reviewers' standing assignments in the queue (those of `ids`, or all; audited per item)."""
    with session_scope(engine, write=True) as session:
        return assignment.unassign(session, queue=queue, usernames=users, actor_id=actor.id, ids=ids)


@guarded("queue.assign")
def assign_choices(*, actor: UserPublic, queue: str, engine: Engine | None = None) -> AssignChoices:
    """The reviewers, topics, model versions and sources to assign by in the queue, and its unassigned items."""
    with session_scope(engine) as session:
        return assignees.assign_choices(session, queue)


@guarded("queue.progress")
def assignee_progress(*, actor: UserPublic, engine: Engine | None = None) -> list[AssigneeProgress]:
    """Per queue and assigned reviewer: assigned, open, done, skipped, overdue, median seconds per item done."""
    with session_scope(engine) as session:
        return assignees.assignee_progress(session)


@guarded("queue.qualify")
def configure_gate(
    *,
    actor: UserPublic,
    queue: str,
    qualify: int | None = None,
    pass_share: float | None = None,
    engine: Engine | None = None,
) -> QueueSettings:
    """Set a queue's qualification gate: gold items a new reviewer judges first (0: no gate) and the share of them
    to get right (audited); raises QueueError, nothing changed, when refused."""
    with session_scope(engine, write=True) as session:
        config = settings.configure(session, queue=queue, actor_id=actor.id, qualify=qualify, pass_share=pass_share)
        return settings.settings_of(config)


@guarded("queue.qualify")
def qualification_standings(
    *, actor: UserPublic, queue: str | None = None, engine: Engine | None = None
) -> list[Standing]:
    """Per gated queue and reviewer: their standing (qualifying, qualified, failed, paused) and judgments held."""
    with session_scope(engine) as session:
        return qualification.standings(prepared.on(session), queue)


@guarded("queue.qualify")
def qualification_gates(*, actor: UserPublic, engine: Engine | None = None) -> list[Gate]:
    """Each queue with gold items: its qualification gate and how many gold items it has."""
    with session_scope(engine) as session:
        return qualification.gates(prepared.on(session))


def _decide(action, actor: UserPublic, queue: str, user: str, engine: Engine | None) -> int:
    with session_scope(engine, write=True) as session:
        run = prepared.on(session)
        user_id = qualification.user_id_of(run, user)
        return action(run, queue=queue, user_id=user_id, actor_id=actor.id, now=utcnow()) or 0


@guarded("queue.qualify")
def allow_retry(*, actor: UserPublic, queue: str, user: str, engine: Engine | None = None) -> None:
    """Let a reviewer who failed the queue's qualification try again (audited)."""
    _decide(qualification.allow_retry, actor, queue, user, engine)


@guarded("queue.qualify")
def release_held(*, actor: UserPublic, queue: str, user: str, engine: Engine | None = None) -> int:
    """Release a paused reviewer's held judgments (they count) and qualify them again; returns how many."""
    return _decide(qualification.release, actor, queue, user, engine)


@guarded("queue.qualify")
def discard_held(*, actor: UserPublic, queue: str, user: str, engine: Engine | None = None) -> int:
    """Discard a paused reviewer's held judgments (kept for the audit trail); they qualify again. Returns how many."""
    return _decide(qualification.discard, actor, queue, user, engine)


@guarded(QUEUE_ACTIONS)
def my_qualification(
    *, actor: UserPublic, queue: str, engine: Engine | None = None
) -> tuple[Standing | None, GoldFeedback | None]:
    """The reviewer's standing on the queue's qualification gate (None: no gate, or not yet visited) and the
    feedback on their latest qualifying gold item."""
    with write_scope(engine, write=False) as run:
        if not queues.get_config(run, queue).qualify:
            return None, None
        found = qualification.standings(run, queue, actor.id)
        return (found[0] if found else None), qualification.last_feedback(run, queue=queue, user_id=actor.id)

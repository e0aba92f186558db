"""What the labelling and adjudication pages call: one function per action, each its own transaction. The views
carry the item's text (and, for the adjudicating expert, every label with its annotator), never a classifier's
score or name: it would bias the labeller. Skips and progress are the shared ones of core.review."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select
from sqlmodel import Session

from core import queues
from core.db import session_scope
from core.models import ModerationItem, ModerationLabel, User
from core.moderation import feedback
from core.moderation.feedback import AdjudicationIn, LabelIn
from core.review import last_judgment_id


@dataclass(frozen=True)
class LabelView:
    assignment_id: int
    text: str
    started_at: datetime


@dataclass(frozen=True)
class LastLabel:
    label_id: int
    text: str
    values: LabelIn


@dataclass(frozen=True)
class ShownLabel:
    """One label as the adjudicating expert sees it: who gave it (a person, or the dataset it came from)."""

    annotator: str
    label: str
    categories: tuple[str, ...]
    note: str
    source: str
    at: datetime


@dataclass(frozen=True)
class AdjudicationView:
    assignment_id: int
    text: str
    labels: list[ShownLabel]
    started_at: datetime


def _text(session: Session, item_id: int) -> str:
    return session.execute(select(ModerationItem.text).where(ModerationItem.id == item_id)).scalar_one()


def next_to_label(user_id: int, *, engine: Engine | None = None) -> LabelView | None:
    with session_scope(engine, write=True) as session:
        lease = queues.next_item(session, queue="moderation", user_id=user_id)
        if lease is None:
            return None
        return LabelView(lease.assignment_id, _text(session, lease.subject_id), lease.started_at)


def label(user_id: int, assignment_id: int, values: LabelIn, *, engine: Engine | None = None) -> int:
    with session_scope(engine, write=True) as session:
        return feedback.submit_label(session, user_id=user_id, assignment_id=assignment_id, label=values)


def last_label(user_id: int, *, engine: Engine | None = None) -> LastLabel | None:
    """The annotator's most recent label made in the app, to reopen and change."""
    with session_scope(engine) as session:
        label_id = last_judgment_id(session, user_id, "moderation")
        if label_id is None:
            return None
        stored = session.get(ModerationLabel, label_id)
        values = LabelIn(stored.label, tuple(stored.categories), stored.note)
        return LastLabel(stored.id, _text(session, stored.item_id), values)


def change_label(user_id: int, label_id: int, values: LabelIn, *, engine: Engine | None = None) -> None:
    with session_scope(engine, write=True) as session:
        feedback.change_label(session, user_id=user_id, label_id=label_id, label=values)


def item_labels(session: Session, item_id: int) -> list[ShownLabel]:
    """Every label of an item, oldest first, with the annotator's name (or the dataset's, for imported ones)."""
    rows = session.execute(
        select(ModerationLabel, User.display_name, User.username)
        .outerjoin(User, User.id == ModerationLabel.user_id)
        .where(ModerationLabel.item_id == item_id)
        .order_by(ModerationLabel.created_at, ModerationLabel.id)
    )
    return [
        ShownLabel(
            display or username or f"{stored.source} dataset",
            stored.label,
            tuple(stored.categories),
            stored.note,
            stored.source,
            stored.updated_at or stored.created_at,
        )
        for stored, display, username in rows
    ]


def next_to_adjudicate(user_id: int, *, engine: Engine | None = None) -> AdjudicationView | None:
    with session_scope(engine, write=True) as session:
        lease = queues.next_item(session, queue="adjudication", user_id=user_id)
        if lease is None:
            return None
        text, labels = _text(session, lease.subject_id), item_labels(session, lease.subject_id)
        return AdjudicationView(lease.assignment_id, text, labels, lease.started_at)


def adjudicate(user_id: int, assignment_id: int, values: AdjudicationIn, *, engine: Engine | None = None) -> int:
    with session_scope(engine, write=True) as session:
        return feedback.submit_adjudication(session, user_id=user_id, assignment_id=assignment_id, adjudication=values)

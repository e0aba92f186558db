"""An item's full history: every judgment of it (with who, when and what), every audit event on those judgments
and on the item's work items (each change with its before and after), flag triage, audit verdicts, adjudication, and
its comment thread's events (who commented when, and whom they mentioned; the texts stay in the thread:
core.oversight.comments).

An item is what reviewers judge: an answer, a pair of answers, or a moderation item. Answers are named by their
store id, never by model or imported id: the history is open to expert reviewers, whose reviews are blind (leads
see the sources through core.oversight.sources)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlmodel import Session

from core.moderation.final_labels import final_labels
from core.oversight.sources import answer_name
from core.oversight.trail import SYSTEM, TrailEvent
from core.store.models import (
    Adjudication,
    AuditEvent,
    AuditSampleItem,
    Comment,
    Comparison,
    ModerationItem,
    ModerationLabel,
    Prompt,
    Rating,
    Response,
    User,
    WorkItem,
)

KINDS = {"answer": "Answer", "pair": "Pair of answers", "moderation_item": "Moderation item"}
# The audit entity that names a judgment of each queue's table (as the write path stores it).
JUDGMENT_ENTITIES = {
    "rating": ("rating",),
    "comparison": ("comparison",),
    "moderation": ("moderation_label",),
    "adjudication": ("adjudication",),
}
MODELS = {"rating": Rating, "comparison": Comparison, "moderation": ModerationLabel, "adjudication": Adjudication}


@dataclass(frozen=True)
class ItemRef:
    kind: str  # answer | pair | moderation_item
    ids: tuple[int, ...]  # the answer's id; the pair's two answer ids, lower first; the moderation item's id

    @property
    def answers(self) -> tuple[int, ...]:
        return () if self.kind == "moderation_item" else self.ids


@dataclass(frozen=True)
class Judgment:
    queue: str
    id: int
    reviewer: str
    at: datetime
    changed_at: datetime | None
    values: str
    source: str


# The headings of a conversation's turns before the question, among an item's texts (pages show them as chat).
TURN_HEADINGS = {"user": "Earlier turn: user", "assistant": "Earlier turn: assistant"}


@dataclass(frozen=True)
class ItemHistory:
    ref: ItemRef  # its answer ids (ref.answers) lead to their sources, for those who may see them
    title: str
    texts: list[tuple[str, str]]  # (heading, text), shown as text; a conversation's earlier turns first (TURN_HEADINGS)
    judgments: list[Judgment]
    events: list[TrailEvent]  # oldest first
    final_label: str | None = None  # moderation items: by the one final-label rule


def _pair(a: int, b: int) -> ItemRef:
    return ItemRef("pair", (min(a, b), max(a, b)))


def item_of(session: Session, entity: str, entity_id: int | None) -> ItemRef | None:
    """The item an audit event's entity belongs to (None when it is not about a judged item)."""
    if entity_id is None:
        return None
    for queue, entities in JUDGMENT_ENTITIES.items():
        if entity in entities:
            return _judgment_item(session, queue, entity_id)
    if entity == "response" and session.get(Response, entity_id):
        return ItemRef("answer", (entity_id,))
    if entity == "moderation_item" and session.get(ModerationItem, entity_id):
        return ItemRef("moderation_item", (entity_id,))
    if entity == "work_item" and (item := session.get(WorkItem, entity_id)):
        if item.queue == "rating":
            return ItemRef("answer", (item.subject_id,))
        if item.queue == "comparison":
            return _pair(item.subject_id, item.subject_b_id)
        return ItemRef("moderation_item", (item.subject_id,))
    if entity == "audit_sample_item" and (sampled := session.get(AuditSampleItem, entity_id)):
        return _judgment_item(session, sampled.queue, sampled.judgment_id)
    if entity == "comment" and (comment := session.get(Comment, entity_id)):
        ids = (comment.subject_id, comment.subject_b_id) if comment.subject == "pair" else (comment.subject_id,)
        return ItemRef(comment.subject, ids)
    return None


def _judgment_item(session: Session, queue: str, judgment_id: int) -> ItemRef | None:
    row = session.get(MODELS[queue], judgment_id)
    if row is None:
        return None
    if queue == "rating":
        return ItemRef("answer", (row.response_id,))
    if queue == "comparison":
        return _pair(row.response_a_id, row.response_b_id)
    return ItemRef("moderation_item", (row.item_id,))


def find_item(session: Session, reference: str) -> ItemRef | None:
    """An item by the id it was imported with (an answer's or a moderation item's), or by `entity:id` as the
    trail shows it (`rating:12`, `comparison:7`, `work_item:3`)."""
    reference = reference.strip()
    if not reference:
        return None
    entity, _, number = reference.partition(":")
    if number.strip().isdigit():
        return item_of(session, entity.strip(), int(number))
    if (answer := session.execute(select(Response.id).where(Response.external_id == reference)).scalar()) is not None:
        return ItemRef("answer", (answer,))
    item = session.execute(select(ModerationItem.id).where(ModerationItem.external_id == reference)).scalar()
    return None if item is None else ItemRef("moderation_item", (item,))


def _values(queue: str, row: Any, ref: ItemRef, answer_names: dict[int, str]) -> str:
    if queue == "rating":
        flags = f"; flags: {', '.join(row.flags)}" if row.flags else ""
        why = f"; rationale: {row.rationale}" if row.rationale else ""
        spans = "; error spans: " + ", ".join(
            f"{s['label']} {s['severity']} at {s['start']}-{s['end']}" for s in row.spans or []
        )
        spans = spans if row.spans else ""
        scores = f"helpfulness {row.helpfulness}, harmlessness {row.harmlessness}, accuracy {row.accuracy}"
        return f"{scores}{flags}{spans}{why}"
    if queue == "comparison":
        sides = {"a": row.response_a_id, "b": row.response_b_id}
        chosen = sides.get(row.choice)
        choice = f"prefers answer {answer_names.get(chosen, chosen)}" if chosen else row.choice.replace("_", " ")
        strength = f" ({row.strength})" if row.strength else ""
        per_dimension = "".join(
            f"; {name}: " + (f"answer {answer_names.get(side, side)}" if (side := sides.get(pick)) else pick)
            for name, pick in (row.dimensions or {}).items()
        )
        why = f"; rationale: {row.rationale}" if row.rationale else ""
        marked = [
            f"{s['label']} {s['severity']} in answer {answer_names.get(answer, answer)} at {s['start']}-{s['end']}"
            for side, answer in (("a", row.response_a_id), ("b", row.response_b_id))
            for s in (row.spans or {}).get(side, [])
        ]
        spans = f"; error spans: {', '.join(marked)}" if marked else ""
        return f"{choice}{strength}{per_dimension}{spans}{why}"
    if queue == "moderation":
        note = f"; note: {row.note}" if row.note else ""
        return f"{row.label}{'; ' + ', '.join(row.categories) if row.categories else ''}{note}"
    return f"final label {row.final_label}; reason: {row.reason}"


def _judgment_rows(session: Session, ref: ItemRef) -> list[tuple[str, Any]]:
    if ref.kind == "answer":
        (answer,) = ref.ids
        ratings = session.execute(select(Rating).where(Rating.response_id == answer)).scalars()
        pairs = session.execute(
            select(Comparison).where(or_(Comparison.response_a_id == answer, Comparison.response_b_id == answer))
        ).scalars()
        return [("rating", r) for r in ratings] + [("comparison", c) for c in pairs]
    if ref.kind == "pair":
        low, high = ref.ids
        either_way = or_(
            and_(Comparison.response_a_id == low, Comparison.response_b_id == high),
            and_(Comparison.response_a_id == high, Comparison.response_b_id == low),
        )
        return [("comparison", c) for c in session.execute(select(Comparison).where(either_way)).scalars()]
    (item,) = ref.ids
    labels = session.execute(select(ModerationLabel).where(ModerationLabel.item_id == item)).scalars()
    adjudication = session.execute(select(Adjudication).where(Adjudication.item_id == item)).scalars()
    return [("moderation", row) for row in labels] + [("adjudication", row) for row in adjudication]


def _work_items(session: Session, ref: ItemRef) -> list[int]:
    if ref.kind == "answer":
        where = and_(WorkItem.queue == "rating", WorkItem.subject_id == ref.ids[0])
    elif ref.kind == "pair":
        where = and_(
            WorkItem.queue == "comparison", WorkItem.subject_id.in_(ref.ids), WorkItem.subject_b_id.in_(ref.ids)
        )
    else:
        where = and_(WorkItem.queue.in_(("moderation", "adjudication")), WorkItem.subject_id == ref.ids[0])
    return list(session.execute(select(WorkItem.id).where(where)).scalars())


def _texts(session: Session, ref: ItemRef) -> tuple[str, list[tuple[str, str]], dict[int, str]]:
    if ref.kind == "moderation_item":
        item = session.get(ModerationItem, ref.ids[0])
        return f"Moderation item {item.external_id}", [("Text", item.text)], {}
    answers = {r.id: r for r in session.execute(select(Response).where(Response.id.in_(ref.ids))).scalars()}
    names = {i: answer_name(i) for i in ref.ids}  # never the imported id: it often names the model
    prompt = session.get(Prompt, answers[ref.ids[0]].prompt_id)
    turns = [(TURN_HEADINGS[turn["role"]], turn["text"]) for turn in prompt.turns or ()]
    texts = [*turns, ("Question", prompt.text)] + [(f"Answer {names[i]}", answers[i].text) for i in ref.ids]
    title = f"Answer {names[ref.ids[0]]}" if ref.kind == "answer" else f"Pair of answers {' and '.join(names.values())}"
    return title, texts, names


def judgment_view(session: Session, queue: str, judgment_id: int) -> tuple[list[tuple[str, str]], str, ItemRef] | None:
    """What one judgment was about (the texts, headed), what it said, and the item it judged (its answers' ids lead
    to their sources, for those who may see them), for a person re-reviewing it."""
    row = session.get(MODELS[queue], judgment_id)
    ref = _judgment_item(session, queue, judgment_id)
    if row is None or ref is None:
        return None
    _, texts, answer_names = _texts(session, ref)
    return texts, _values(queue, row, ref, answer_names), ref


def item_history(session: Session, ref: ItemRef) -> ItemHistory:
    """Everything that happened to one item, judgments and events oldest first."""
    title, texts, answer_names = _texts(session, ref)
    users = dict(session.execute(select(User.id, User.username)).all())
    rows = _judgment_rows(session, ref)
    judgments = sorted(
        (
            Judgment(
                queue,
                row.id,
                users.get(row.user_id, SYSTEM),
                row.created_at,
                row.updated_at,
                _values(queue, row, ref, answer_names),
                getattr(row, "source", "app"),
            )
            for queue, row in rows
        ),
        key=lambda j: (j.at, j.queue, j.id),
    )
    owners: list[Any] = []
    for queue in JUDGMENT_ENTITIES:
        ids = [row.id for q, row in rows if q == queue]
        if ids:
            owners.append(and_(AuditEvent.entity.in_(JUDGMENT_ENTITIES[queue]), AuditEvent.entity_id.in_(ids)))
            sampled = select(AuditSampleItem.id).where(
                AuditSampleItem.queue == queue, AuditSampleItem.judgment_id.in_(ids)
            )
            owners.append(and_(AuditEvent.entity == "audit_sample_item", AuditEvent.entity_id.in_(sampled)))
    if work_items := _work_items(session, ref):
        owners.append(and_(AuditEvent.entity == "work_item", AuditEvent.entity_id.in_(work_items)))
    if ref.kind == "moderation_item":
        owners.append(and_(AuditEvent.entity == "moderation_item", AuditEvent.entity_id == ref.ids[0]))
    thread = select(Comment.id).where(
        Comment.subject == ref.kind,
        Comment.subject_id == ref.ids[0],
        Comment.subject_b_id == (ref.ids[1] if ref.kind == "pair" else 0),
    )
    owners.append(and_(AuditEvent.entity == "comment", AuditEvent.entity_id.in_(thread)))
    events = []
    if owners:
        found = session.execute(select(AuditEvent).where(or_(*owners)).order_by(AuditEvent.at, AuditEvent.id)).scalars()
        events = [
            TrailEvent(e.id, e.at, users.get(e.actor_id, SYSTEM), e.action, e.entity, e.entity_id, e.before, e.after)
            for e in found
        ]
    final = None
    if ref.kind == "moderation_item":
        decided = final_labels()
        final = session.execute(select(decided.c.label).where(decided.c.item_id == ref.ids[0])).scalar()
    return ItemHistory(ref, title, texts, judgments, events, final)

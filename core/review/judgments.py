"""The write path for judgments made in the app. One transaction writes the judgment, closes the reviewer's lease,
counts the judgment on its work item and appends the audit event. A repeated submission (double click, retry) of
the same assignment is the same row."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Insert, Select, Update, bindparam, func, insert, select, update
from sqlmodel import Session, SQLModel

from core import audit
from core.review import qualification, standing
from core.review.queues import get_config
from core.review.spans import Span, span_problems, stored_spans
from core.store import prepared
from core.store.models import FLAGS, RUBRIC, STRENGTHS, Assignment, Comparison, Rating, Response, WorkItem, utcnow
from core.text import text_problems


class FeedbackError(Exception):
    """A submission was refused; nothing was written. The message is safe to show."""


class LeaseLost(FeedbackError):
    pass


class AlreadyJudged(FeedbackError):
    """The reviewer judged this item already (in another tab or window) with other values; `judgment_id` is the
    stored judgment, which they can change instead."""

    def __init__(self, message: str, judgment_id: int) -> None:
        super().__init__(message)
        self.judgment_id = judgment_id


# What the reviewer made of an item, as the refusal of a second, different one names it.
MADE = {
    "rating": "rated this answer",
    "comparison": "compared this pair",
    "moderation": "labelled this item",
    "adjudication": "decided this item",
}


@dataclass(frozen=True)
class RatingIn:
    helpfulness: int
    harmlessness: int
    accuracy: int
    flags: tuple[str, ...] = ()
    rationale: str = ""
    spans: tuple[Span, ...] = ()  # error spans in the answer; each implies the rating's flag of its label

    def problems(self, answer: str | None = None) -> list[str]:
        """What is wrong; with the `answer`'s text, the spans' offsets are checked against it too."""
        found = [
            f"{name} must be a whole number from 1 to 5"
            for name in ("helpfulness", "harmlessness", "accuracy")
            if getattr(self, name) not in (1, 2, 3, 4, 5)
        ]
        found += [f"unknown flag {flag!r}" for flag in self.flags if flag not in FLAGS]
        found += span_problems(self.spans, answer)
        if (self.accuracy <= 2 or self.flags or self.spans) and not self.rationale.strip():
            found.append("a rationale is required when accuracy is 2 or less or a flag is set")
        return found + text_problems("rationale", self.rationale)

    def values(self) -> dict[str, Any]:
        flags = set(self.flags) | {span.label for span in self.spans}
        return asdict(self) | {
            "flags": sorted(flags),
            "rationale": self.rationale.strip(),
            "spans": stored_spans(self.spans),
        }


ANSWER_SIDES = ("left", "right")  # the two answers of a pair, as shown
SIDES = ("left", "right", "tie")  # a preference on one rubric dimension, as the reviewer saw the pair


@dataclass(frozen=True)
class ComparisonIn:
    """What the reviewer saw and chose: `preferred` is left, right, tie or both_bad (never a model's name);
    `dimensions` the preference per rubric dimension (left, right or tie), where the queue asks for them."""

    preferred: str
    strength: str | None = None
    rationale: str = ""
    dimensions: dict[str, str] = field(default_factory=dict)
    spans: tuple[tuple[Span, ...], tuple[Span, ...]] = ((), ())  # error spans in the left and the right answer

    def problems(self, per_dimension: bool = False) -> list[str]:
        """What is wrong; `per_dimension`: the queue asks for every dimension (otherwise any given are checked)."""
        if self.preferred not in ("left", "right", "tie", "both_bad"):
            return ["choose left, right, tie or both bad"]
        if self.preferred in ("left", "right") and self.strength not in STRENGTHS:
            return ["say how strong the preference is: slight, clear or strong"]
        found = [f"unknown dimension {name!r}" for name in self.dimensions if name not in RUBRIC]
        found += [
            f"choose left, right or tie for {name}"
            for name in RUBRIC
            if (name in self.dimensions or per_dimension) and self.dimensions.get(name) not in SIDES
        ]
        found += [
            f"{side} answer: {p}"
            for side, s in zip(ANSWER_SIDES, self.spans, strict=True)
            for p in span_problems(s, None)
        ]
        return found + text_problems("rationale", self.rationale)


# Built once, values bound at each call, compiled once and run on the bare driver connection (core.store.prepared),
# as in core.review.queues: ORM objects, flushes and SQLAlchemy's execution of each statement cost more than the SQL.
A, W = Assignment.__table__, WorkItem.__table__


@cache
def _claim_statement() -> Select:
    """An assignment and its work item, both locked, and whether a named assignment of the item is open (value:
    assignment_id)."""
    return (
        select(
            A.c.user_id,
            A.c.status,
            A.c.started_at,
            A.c.expires_at,
            A.c.left_response_id,
            A.c.judgment_id,
            W.c.id.label("item_id"),
            W.c.queue,
            W.c.subject_id,
            W.c.subject_b_id,
            W.c.is_gold,
            W.c.k,
            W.c.done,
            standing.assigned(W.c.id).label("assigned"),
        )
        .select_from(A.join(W, W.c.id == A.c.work_item_id))
        .where(A.c.id == bindparam("assignment_id"))
        .with_for_update()
    )


@cache
def _others_statement() -> Select:
    """Other reviewers' live leases on an item (values: item_id, user_id, now)."""
    return (
        select(func.count())
        .select_from(A)
        .where(
            A.c.work_item_id == bindparam("item_id"),
            A.c.user_id != bindparam("user_id"),
            A.c.status == "leased",
            A.c.expires_at > bindparam("now"),
        )
    )


@cache
def _pair_statement() -> Select:
    """The prompt two answers answer and the versions that wrote them (values: a, b)."""
    answer_a, answer_b = Response.__table__.alias("a"), Response.__table__.alias("b")
    return (
        select(answer_a.c.prompt_id, answer_a.c.model_version_id, answer_b.c.model_version_id)
        .join_from(answer_a, answer_b, answer_b.c.id == bindparam("b"))
        .where(answer_a.c.id == bindparam("a"))
    )


@cache
def _answer_statement() -> Select:
    """An answer's text (value: response_id)."""
    return select(Response.__table__.c.text).where(Response.__table__.c.id == bindparam("response_id"))


def check_spans(run: prepared.Runner, rating: RatingIn, response_id: int) -> None:
    """Refuse spans that do not fit the answer's stored text (the other rules are checked before)."""
    if rating.spans and (
        problems := span_problems(rating.spans, run.scalar(_answer_statement(), {"response_id": response_id}))
    ):
        raise FeedbackError("; ".join(problems))


def check_side_spans(run: prepared.Runner, comparison: ComparisonIn, left_id: int, right_id: int) -> None:
    """Refuse a comparison's spans that do not fit the texts of the answers shown left and right."""
    problems = [
        f"{side} answer: {problem}"
        for side, spans, answer in zip(ANSWER_SIDES, comparison.spans, (left_id, right_id), strict=True)
        if spans
        for problem in span_problems(spans, run.scalar(_answer_statement(), {"response_id": answer}))
    ]
    if problems:
        raise FeedbackError("; ".join(problems))


@cache
def _close_statements() -> tuple[Update, Update]:
    """The assignment done with its judgment, and the judgment counted on its item, closing it at k (values:
    assignment_id, judgment_id, now, item_id)."""
    done = update(A).where(A.c.id == bindparam("assignment_id"))
    done = done.values(status="done", judgment_id=bindparam("judgment_id"), updated_at=bindparam("now"))
    counted = update(W).where(W.c.id == bindparam("item_id"))
    counted = counted.values(done=W.c.done + 1, open=W.c.is_gold | (W.c.done + 1 < W.c.k))
    return done, counted


@cache
def _insert_statement(model: type[SQLModel], columns: tuple[str, ...]) -> Insert:
    table = model.__table__
    return insert(table).values({name: bindparam(name) for name in columns}).returning(table.c.id)


def claim_assignment(
    session: Session | prepared.Runner,
    *,
    user_id: int,
    assignment_id: int,
    queue: str,
    problems: list[str],
    now: datetime,
) -> tuple:
    """Lock the assignment and its item; refuse an item that is not the reviewer's, the submission's `problems` (its
    invalid values), or an item whose place went to another. One the reviewer judged already is returned as it is,
    whatever the problems: the caller compares it with the stored judgment."""
    run = prepared.on(session)
    claim = run.first(_claim_statement(), {"assignment_id": assignment_id})
    if claim is None or claim.user_id != user_id or claim.queue != queue:
        raise FeedbackError("This item is not yours: open the next item instead.")
    if claim.status == "skipped":
        raise FeedbackError("You skipped this item; it has gone back to the queue.")
    if problems and claim.status != "done":
        raise FeedbackError("; ".join(problems))
    if claim.status == "leased" and claim.expires_at <= now and not claim.is_gold:
        values = {"item_id": claim.item_id, "user_id": user_id, "now": now}
        if claim.done + run.scalar(_others_statement(), values) >= claim.k:
            raise LeaseLost(
                "Your time on this item ran out and another reviewer has taken it, so your answer was "
                "not saved. Here is your next item."
            )
    return claim


def repeated(run: prepared.Runner, model: type[SQLModel], claim: tuple, values: dict[str, Any]) -> int:
    """A submission for an assignment already done. The same values again (a double click, a retry) are the stored
    judgment; other values come from a second tab or window on the same item, and are refused, never dropped."""
    if claim.judgment_id is None:  # held provisional by the qualification gate: kept once, out of this table
        raise FeedbackError(f"You {MADE[claim.queue]} already; it is kept as provisional. Here is your next item.")
    stored = run.first(_judgment_statement(model), {"judgment_id": claim.judgment_id})
    if stored is not None and all(getattr(stored, name) == value for name, value in values.items()):
        return claim.judgment_id
    how = (
        "Decisions are final, so this one was not saved."
        if claim.queue == "adjudication"
        else "Your new choices were not saved and are still in the form: press u (Change last) to replace the saved "
        "one with them."
    )
    raise AlreadyJudged(f"You already {MADE[claim.queue]}, in another tab or window. {how}", claim.judgment_id)


def store_judgment(
    session: Session | prepared.Runner,
    model: type[SQLModel],
    claim: tuple,
    assignment_id: int,
    values: dict,
    now: datetime,
    *,
    audited: dict,
    hidden_seconds: float = 0.0,
) -> int:
    """Insert the judgment, close the assignment, count it on the item, end a named assignment of it to the reviewer
    (core.review.standing) and append the `<table>.create` audit event
    (`audited`: what it records), then on a queue with a qualification gate hold it provisional where the reviewer is
    not qualified (core.review.qualification); returns the judgment's id. Time spent runs from the lease to now,
    less the seconds the reviewer's tab was hidden."""
    run = prepared.on(session)
    seconds = max(0.0, (now - claim.started_at).total_seconds() - max(0.0, hidden_seconds))
    row = values | {"user_id": claim.user_id, "seconds_spent": seconds, "created_at": now}
    judgment_id = run.scalar(_insert_statement(model, tuple(row)), row)
    done, counted = _close_statements()
    run.rows(done, {"assignment_id": assignment_id, "judgment_id": judgment_id, "now": now})
    run.rows(counted, {"item_id": claim.item_id})
    if claim.assigned:  # most items are not: no statement for them
        standing.end(run, item_id=claim.item_id, user_id=claim.user_id, outcome="done", now=now)
    entity = model.__tablename__
    audit.record(
        run, actor_id=claim.user_id, action=f"{entity}.create", entity=entity, entity_id=judgment_id, after=audited
    )
    qualification.judged(
        run, queue=claim.queue, claim=claim, assignment_id=assignment_id, judgment_id=judgment_id, values=row, now=now
    )
    return judgment_id


def change_judgment(
    store: Session | prepared.Runner,
    model: type[SQLModel],
    *,
    judgment_id: int,
    user_id: int,
    values: Callable[[Any], dict[str, Any]],
    refused: str,
    editable: Callable[[Any], bool] = lambda stored: True,
    seen: Callable[[Any, dict], dict] = lambda stored, values: {},
) -> Any:
    """A reviewer changes their own judgment in place; `values(stored)` gives the new values. The earlier ones stay
    in the `<table>.update` audit event, each side with what `seen(stored, values)` adds: the values as the
    reviewer saw them. Returns the judgment as it was stored before."""
    run = prepared.on(store)
    stored = run.first(_judgment_statement(model), {"judgment_id": judgment_id})
    if stored is None or stored.user_id != user_id or not editable(stored):
        raise FeedbackError(refused)
    after = values(stored)
    before = {name: getattr(stored, name) for name in after}
    changed = {f"new_{name}": value for name, value in after.items()}
    run.rows(_change_statement(model, tuple(after)), changed | {"judgment_id": judgment_id, "now": utcnow()})
    entity = model.__tablename__
    audit.record(
        run,
        actor_id=user_id,
        action=f"{entity}.update",
        entity=entity,
        entity_id=judgment_id,
        before=before | seen(stored, before),
        after=after | seen(stored, after),
    )
    return stored


@cache
def _judgment_statement(model: type[SQLModel]) -> Select:
    """A judgment's row, locked (value: judgment_id)."""
    table = model.__table__
    return select(*table.c).where(table.c.id == bindparam("judgment_id")).with_for_update()


@cache
def _change_statement(model: type[SQLModel], columns: tuple[str, ...]) -> Update:
    """A judgment's new values (values: judgment_id, now, new_<column> for each column)."""
    table = model.__table__
    changed = {name: bindparam(f"new_{name}") for name in columns} | {"updated_at": bindparam("now")}
    return update(table).where(table.c.id == bindparam("judgment_id")).values(changed)


def submit_rating(
    session: Session | prepared.Runner,
    *,
    user_id: int,
    assignment_id: int,
    rating: RatingIn,
    now: datetime | None = None,
    hidden_seconds: float = 0.0,
) -> int:
    """Store a rating of the leased answer; returns the rating's id (the same id for a repeated submission)."""
    now, run = now or utcnow(), prepared.on(session)
    claim = claim_assignment(
        run, user_id=user_id, assignment_id=assignment_id, queue="rating", problems=rating.problems(), now=now
    )
    check_spans(run, rating, claim.subject_id)
    values = rating.values() | {"response_id": claim.subject_id}
    if claim.status == "done":
        return repeated(run, Rating, claim, values)
    row = values | {"key": f"app:rating:{user_id}:{claim.item_id}", "source": "app"}
    return store_judgment(run, Rating, claim, assignment_id, row, now, audited=values, hidden_seconds=hidden_seconds)


def _choice(preferred: str, left_id: int, a_id: int, b_id: int) -> str:
    if preferred in ("tie", "both_bad"):
        return preferred
    chosen = left_id if preferred == "left" else (b_id if left_id == a_id else a_id)
    return "a" if chosen == a_id else "b"


def preferred_side(choice: str, left_id: int | None, a_id: int, b_id: int) -> str:
    """A stored choice (a, b, tie, both_bad) as the reviewer made it: left, right, tie or both_bad."""
    if choice not in ("a", "b"):
        return choice
    return "left" if (a_id if choice == "a" else b_id) == (left_id or a_id) else "right"


def _comparison_values(comparison: ComparisonIn, left_id: int, a_id: int, b_id: int) -> dict[str, Any]:
    dimensions = {name: comparison.dimensions[name] for name in RUBRIC if name in comparison.dimensions}
    left, right = comparison.spans
    by_side = dict(zip(("a", "b") if left_id == a_id else ("b", "a"), (left, right), strict=True))
    return {
        "choice": _choice(comparison.preferred, left_id, a_id, b_id),
        "strength": comparison.strength if comparison.preferred in ("left", "right") else None,
        "rationale": comparison.rationale.strip(),
        "dimensions": {name: _choice(side, left_id, a_id, b_id) for name, side in dimensions.items()},
        "spans": {side: stored_spans(spans) for side, spans in sorted(by_side.items()) if spans},
    }


def sides_seen(dimensions: dict[str, str], left_id: int | None, a_id: int, b_id: int) -> dict[str, str]:
    """Stored per-dimension choices (a, b, tie) as the reviewer made them: left, right or tie."""
    return {name: preferred_side(choice, left_id, a_id, b_id) for name, choice in dimensions.items()}


def asks_per_dimension(store: Session | prepared.Runner) -> bool:
    """Whether the comparison queue asks for a preference per rubric dimension (its setting `per_dimension`)."""
    return bool(get_config(store, "comparison").per_dimension)


def side_spans(stored: Any) -> tuple[tuple[Span, ...], tuple[Span, ...]]:
    """A stored comparison's spans as the reviewer saw them: left, right."""
    spans = {side: tuple(Span.of(s) for s in stored.spans.get(side, [])) for side in ("a", "b")}
    left_is_a = (stored.left_response_id or stored.response_a_id) == stored.response_a_id
    return (spans["a"], spans["b"]) if left_is_a else (spans["b"], spans["a"])


def submit_comparison(
    session: Session | prepared.Runner,
    *,
    user_id: int,
    assignment_id: int,
    comparison: ComparisonIn,
    now: datetime | None = None,
    hidden_seconds: float = 0.0,
) -> int:
    """Store a preference between the two leased answers, as shown left and right; returns the comparison's id."""
    now, run = now or utcnow(), prepared.on(session)
    problems = comparison.problems(asks_per_dimension(run))
    claim = claim_assignment(
        run, user_id=user_id, assignment_id=assignment_id, queue="comparison", problems=problems, now=now
    )
    a_id, b_id = claim.subject_id, claim.subject_b_id
    right_id = b_id if claim.left_response_id == a_id else a_id
    check_side_spans(run, comparison, claim.left_response_id, right_id)
    values = _comparison_values(comparison, claim.left_response_id, a_id, b_id)
    if claim.status == "done":
        return repeated(run, Comparison, claim, values)
    prompt_id, version_a, version_b = run.first(_pair_statement(), {"a": a_id, "b": b_id})
    values |= {"response_a_id": a_id, "response_b_id": b_id}
    row = values | {
        "key": f"app:comparison:{user_id}:{claim.item_id}",
        "source": "app",
        "prompt_id": prompt_id,
        "version_a_id": version_a,
        "version_b_id": version_b,
        "left_response_id": claim.left_response_id,
    }
    seen = {"preferred": comparison.preferred, "left_response_id": claim.left_response_id}
    if comparison.dimensions:
        seen["preferred_dimensions"] = sides_seen(values["dimensions"], claim.left_response_id, a_id, b_id)
    return store_judgment(
        run, Comparison, claim, assignment_id, row, now, audited=values | seen, hidden_seconds=hidden_seconds
    )


def change_rating(store: Session | prepared.Runner, *, user_id: int, rating_id: int, rating: RatingIn) -> None:
    """A reviewer changes their own rating; the old values stay in the audit trail."""
    if problems := rating.problems():
        raise FeedbackError("; ".join(problems))

    def values(stored: Any) -> dict[str, Any]:
        check_spans(prepared.on(store), rating, stored.response_id)
        return rating.values()

    change_judgment(
        store,
        Rating,
        judgment_id=rating_id,
        user_id=user_id,
        values=values,
        refused="You can change only your own ratings.",
    )


def change_comparison(
    store: Session | prepared.Runner, *, user_id: int, comparison_id: int, comparison: ComparisonIn
) -> None:
    """A reviewer changes their own preference (as left/right of what they were shown); the old one is audited."""
    if problems := comparison.problems(asks_per_dimension(store)):
        raise FeedbackError("; ".join(problems))

    def values(stored: Any) -> dict[str, Any]:
        left = stored.left_response_id or stored.response_a_id
        right = stored.response_b_id if left == stored.response_a_id else stored.response_a_id
        check_side_spans(prepared.on(store), comparison, left, right)
        return _comparison_values(comparison, left, stored.response_a_id, stored.response_b_id)

    change_judgment(
        store,
        Comparison,
        judgment_id=comparison_id,
        user_id=user_id,
        values=values,
        refused="You can change only your own comparisons.",
        seen=lambda stored, v: {
            "preferred": preferred_side(
                v["choice"], stored.left_response_id, stored.response_a_id, stored.response_b_id
            ),
            "preferred_dimensions": sides_seen(
                v["dimensions"], stored.left_response_id, stored.response_a_id, stored.response_b_id
            ),
        },
    )

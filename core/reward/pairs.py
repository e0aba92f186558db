"""Preference pairs from the store, aggregated in SQL.

Every judgment of a pair of answers counts as one vote, whatever the order in which the two were stored: a vote for
one answer, a tie or both bad. A pair is usable when one answer has more than half of its votes; otherwise it is left
out as a tie, as both bad (those verdicts have the majority) or as split (no verdict has it). Optionally, pairs of two
answers to the same prompt that nobody compared come from their mean rubric ratings.

A snapshot of one rubric dimension ("harmlessness") counts each comparison's preference on that dimension instead of
its overall choice: comparisons without one are left out, and rating pairs use that dimension's mean score."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, and_, case, exists, func, literal, or_, select
from sqlalchemy.orm import aliased
from sqlmodel import Session

from core.store.models import RUBRIC, Comparison, ModelVersion, Prompt, Rating, Response

# A rating pair needs this gap between the two answers' mean rubric scores (1 to 5) to say which is better.
RATING_MARGIN = 1.0
NO_TOPIC = "(no topic)"
OUTCOMES = ("usable", "tie", "both_bad", "split")
DIMENSIONS = RUBRIC  # what a snapshot can be built from instead of the overall choice


def preference(dimension: str | None) -> ColumnElement:
    """A comparison's verdict: its overall choice, or its choice on one rubric dimension (NULL where none)."""
    c = Comparison.__table__.c
    return c.choice if dimension is None else c.dimensions[dimension].as_string()


def _votes(dimension: str | None = None) -> Select:
    """One row per compared pair of answers: (prompt, lo, hi) with the votes for each verdict and the outcome."""
    c = Comparison.__table__.c
    choice = preference(dimension)
    lo = case((c.response_a_id < c.response_b_id, c.response_a_id), else_=c.response_b_id)
    hi = case((c.response_a_id < c.response_b_id, c.response_b_id), else_=c.response_a_id)
    winner = case((choice == "a", c.response_a_id), (choice == "b", c.response_b_id))
    votes = (
        select(
            c.prompt_id,
            lo.label("lo"),
            hi.label("hi"),
            func.count().label("votes"),
            func.sum(case((winner == lo, 1), else_=0)).label("lo_votes"),
            func.sum(case((winner == hi, 1), else_=0)).label("hi_votes"),
            func.sum(case((choice == "tie", 1), else_=0)).label("ties"),
            func.sum(case((choice == "both_bad", 1), else_=0)).label("both_bad"),
            func.min(c.source).label("min_source"),
            func.max(c.source).label("max_source"),
        )
        .where(choice.is_not(None))
        .group_by(c.prompt_id, lo, hi)
        .subquery()
    )
    v = votes.c
    outcome = case(
        (2 * v.lo_votes > v.votes, "usable"),
        (2 * v.hi_votes > v.votes, "usable"),
        (2 * v.ties > v.votes, "tie"),
        (2 * v.both_bad > v.votes, "both_bad"),
        else_="split",
    )
    return select(
        v.prompt_id,
        case((v.lo_votes > v.hi_votes, v.lo), else_=v.hi).label("chosen_id"),
        case((v.lo_votes > v.hi_votes, v.hi), else_=v.lo).label("rejected_id"),
        v.votes,
        case((v.lo_votes > v.hi_votes, v.lo_votes), else_=v.hi_votes).label("winner_votes"),
        case((v.min_source == v.max_source, v.min_source), else_="mixed").label("source"),
        outcome.label("outcome"),
        v.lo,
        v.hi,
    )


def _rating_pairs(dimension: str | None = None) -> Select:
    """Two answers to the same prompt, both rated, never compared, whose mean rubric scores (or mean scores on the
    one dimension) differ by the margin."""
    r = Rating.__table__.c
    score = (r.helpfulness + r.harmlessness + r.accuracy) / 3.0 if dimension is None else r[dimension] * 1.0
    per_answer = (
        select(
            r.response_id,
            func.avg(score).label("score"),
            func.count().label("ratings"),
        )
        .group_by(r.response_id)
        .subquery()
    )
    s1, s2 = aliased(per_answer), aliased(per_answer)
    r1, r2 = aliased(Response.__table__), aliased(Response.__table__)
    c = Comparison.__table__.c
    compared = exists().where(
        or_(
            and_(c.response_a_id == r1.c.id, c.response_b_id == r2.c.id),
            and_(c.response_a_id == r2.c.id, c.response_b_id == r1.c.id),
        )
    )
    better = s1.c.score > s2.c.score
    return (
        select(
            r1.c.prompt_id,
            case((better, r1.c.id), else_=r2.c.id).label("chosen_id"),
            case((better, r2.c.id), else_=r1.c.id).label("rejected_id"),
            (s1.c.ratings + s2.c.ratings).label("votes"),
            func.abs(s1.c.score - s2.c.score).label("gap"),
        )
        .select_from(r1)
        .join(s1, s1.c.response_id == r1.c.id)
        .join(r2, and_(r2.c.prompt_id == r1.c.prompt_id, r2.c.id > r1.c.id))
        .join(s2, s2.c.response_id == r2.c.id)
        .where(~compared)
    )


@dataclass(frozen=True)
class PairRow:
    """A usable pair with what the dataset keeps of it."""

    prompt_id: str
    prompt: str
    turns: list  # the conversation before the prompt (core.store.models.Prompt)
    topic: str
    chosen_id: str
    chosen: str
    chosen_model: str
    rejected_id: str
    rejected: str
    rejected_model: str
    source: str
    votes: int
    winner_votes: int


def _with_texts(pairs: Select) -> Select:
    """The pairs joined to their prompt and answers (texts, external ids, topic, model versions)."""
    p = pairs.subquery()
    chosen, rejected = aliased(Response.__table__), aliased(Response.__table__)
    chosen_model, rejected_model = aliased(ModelVersion.__table__), aliased(ModelVersion.__table__)
    prompt = Prompt.__table__.c
    return (
        select(
            prompt.external_id,
            prompt.text,
            prompt.turns,
            func.coalesce(prompt.topic, NO_TOPIC),
            chosen.c.external_id,
            chosen.c.text,
            chosen_model.c.name,
            rejected.c.external_id,
            rejected.c.text,
            rejected_model.c.name,
            p.c.source,
            p.c.votes,
            p.c.winner_votes,
        )
        .join_from(p, Prompt.__table__, prompt.id == p.c.prompt_id)
        .join(chosen, chosen.c.id == p.c.chosen_id)
        .join(chosen_model, chosen_model.c.id == chosen.c.model_version_id)
        .join(rejected, rejected.c.id == p.c.rejected_id)
        .join(rejected_model, rejected_model.c.id == rejected.c.model_version_id)
    )


def usable_pairs(session: Session, *, with_ratings: bool = False, dimension: str | None = None) -> list[PairRow]:
    """Every usable pair: resolved comparisons, and (if asked) pairs from rubric ratings, source "ratings"; by the
    overall choice, or by the preferences on one rubric `dimension`."""
    votes = _votes(dimension).subquery()
    statements = [_with_texts(select(votes).where(votes.c.outcome == "usable"))]
    if with_ratings:
        rated = _rating_pairs(dimension).subquery()
        statements.append(
            _with_texts(
                select(
                    rated.c.prompt_id,
                    rated.c.chosen_id,
                    rated.c.rejected_id,
                    literal("ratings").label("source"),
                    rated.c.votes,
                    rated.c.votes.label("winner_votes"),
                ).where(rated.c.gap >= RATING_MARGIN)
            )
        )
    return [PairRow(*row) for statement in statements for row in session.execute(statement)]


def usable_pair_count(session: Session) -> int:
    """How many compared pairs are usable now (one SQL count): what a snapshot would hold, without ratings."""
    votes = _votes().subquery()
    return session.execute(select(func.count()).where(votes.c.outcome == "usable")).scalar_one()


@dataclass(frozen=True)
class Count:
    name: str
    pairs: int
    wins: int = 0  # for model versions: pairs won against another version's answer


@dataclass(frozen=True)
class PairSummary:
    """How many pairs the store holds and which of them a snapshot would use."""

    outcomes: dict[str, int]  # usable / tie / both_bad / split: compared pairs by outcome
    by_source: list[Count]
    by_topic: list[Count]
    by_version: list[Count]
    rating_pairs: int  # uncompared rated pairs with a clear gap (used with --with-ratings)
    rating_pairs_close: int  # ... whose gap is under the margin (never used)

    @property
    def usable(self) -> int:
        return self.outcomes["usable"]

    @property
    def left_out(self) -> int:
        return sum(n for outcome, n in self.outcomes.items() if outcome != "usable")


def pair_summary(session: Session, dimension: str | None = None) -> PairSummary:
    """Compared pairs by outcome, and the usable ones per source, topic and model version (SQL aggregates); by the
    overall choice, or by the preferences on one rubric `dimension`."""
    votes = _votes(dimension).subquery()
    outcomes = dict.fromkeys(OUTCOMES, 0)
    outcomes |= dict(session.execute(select(votes.c.outcome, func.count()).group_by(votes.c.outcome)).all())
    usable = select(votes).where(votes.c.outcome == "usable").subquery()
    by_source = session.execute(select(usable.c.source, func.count()).group_by(usable.c.source)).all()
    topic = func.coalesce(Prompt.topic, NO_TOPIC)
    by_topic = session.execute(
        select(topic, func.count()).join_from(usable, Prompt, Prompt.id == usable.c.prompt_id).group_by(topic)
    ).all()
    rated = _rating_pairs(dimension).subquery()
    clear = func.sum(case((rated.c.gap >= RATING_MARGIN, 1), else_=0))
    rating_pairs, close = session.execute(select(func.coalesce(clear, 0), func.count() - func.coalesce(clear, 0))).one()
    return PairSummary(
        outcomes=outcomes,
        by_source=_counts(by_source),
        by_topic=_counts(by_topic),
        by_version=_version_counts(session, usable),
        rating_pairs=int(rating_pairs),
        rating_pairs_close=int(close),
    )


def _version_counts(session: Session, usable) -> list[Count]:
    """Per model version: usable pairs with one of its answers, and those it won against another version."""
    chosen, rejected = aliased(Response.__table__), aliased(Response.__table__)
    chosen_model, rejected_model = aliased(ModelVersion.__table__), aliased(ModelVersion.__table__)
    rows = session.execute(
        select(chosen_model.c.name, rejected_model.c.name, func.count())
        .join_from(usable, chosen, chosen.c.id == usable.c.chosen_id)
        .join(chosen_model, chosen_model.c.id == chosen.c.model_version_id)
        .join(rejected, rejected.c.id == usable.c.rejected_id)
        .join(rejected_model, rejected_model.c.id == rejected.c.model_version_id)
        .group_by(chosen_model.c.name, rejected_model.c.name)
    ).all()
    pairs: dict[str, int] = {}
    wins: dict[str, int] = {}
    for winner, loser, n in rows:
        for name in {winner, loser}:
            pairs[name] = pairs.get(name, 0) + n
        if winner != loser:
            wins[winner] = wins.get(winner, 0) + n
    return sorted((Count(name, n, wins.get(name, 0)) for name, n in pairs.items()), key=lambda c: (-c.pairs, c.name))


def _counts(rows) -> list[Count]:
    return sorted((Count(name, int(n)) for name, n in rows), key=lambda c: (-c.pairs, c.name))


def expert_votes(session: Session, dimension: str | None = None) -> list[PairRow]:
    """Each expert vote from the app for one answer of a pair (overall, or on one rubric `dimension`), as a pair of
    its own (source "app")."""
    c = Comparison.__table__.c
    choice = preference(dimension)
    votes = select(
        c.prompt_id,
        case((choice == "a", c.response_a_id), else_=c.response_b_id).label("chosen_id"),
        case((choice == "a", c.response_b_id), else_=c.response_a_id).label("rejected_id"),
        c.source,
        literal(1).label("votes"),
        literal(1).label("winner_votes"),
    ).where(c.source == "app", choice.in_(("a", "b")))
    return [PairRow(*row) for row in session.execute(_with_texts(votes))]

"""The judgments every audit report reads, one source per queue: which table holds them, what the judged item is,
and which dimensions are scored (with their level of measurement, for agreement)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, case, literal

from core.store.models import CHOICES, MODERATION_LABELS, RUBRIC, Adjudication, Comparison, ModerationLabel, Rating

# A pair of answers as one number: the lower response id times PAIR_BASE plus the higher (ids stay below it). Not a
# power of two: PostgreSQL hashes a bigint by folding its two 32-bit halves together, so low * 2**32 + high would
# send every pair of neighbouring ids to a handful of hash buckets (a GROUP BY of 50,000 pairs took 7 s).
PAIR_BASE = 2**31 - 1


@dataclass(frozen=True)
class Dimension:
    name: str
    level: str  # "ordinal" or "nominal" (Krippendorff's level of measurement)
    values: tuple[Any, ...]  # in order


@dataclass(frozen=True)
class Source:
    queue: str
    model: Any
    dimensions: tuple[Dimension, ...]
    judged: str  # what the judged item is, for people: "answer", "pair of answers", "moderation item"

    def unit(self) -> ColumnElement[int]:
        """The judged item: an answer, a pair of answers (order-free), a moderation item."""
        if self.model is Rating:
            return Rating.response_id
        if self.model is Comparison:
            low = case(
                (Comparison.response_a_id < Comparison.response_b_id, Comparison.response_a_id),
                else_=Comparison.response_b_id,
            )
            high = Comparison.response_a_id + Comparison.response_b_id - low
            return low * literal(PAIR_BASE, BigInteger) + high
        return self.model.item_id

    def value(self, dimension: str) -> ColumnElement[Any]:
        """A judgment's value on a dimension; a comparison's choice is turned to the pair's order ("a": the answer
        with the lower id is better), so two reviewers shown the pair either way compare equal."""
        if self.model is Comparison:
            ordered = Comparison.response_a_id < Comparison.response_b_id
            return case(
                (ordered, Comparison.choice),
                (Comparison.choice == "a", "b"),
                (Comparison.choice == "b", "a"),
                else_=Comparison.choice,
            )
        return getattr(self.model, dimension)

    def in_range(self, start: datetime | None, end: datetime | None) -> list[ColumnElement[bool]]:
        """Judgments by a reviewer (imported ones without one are left out), made in [start, end)."""
        conditions = [self.model.user_id.is_not(None)]
        if start is not None:
            conditions.append(self.model.created_at >= start)
        if end is not None:
            conditions.append(self.model.created_at < end)
        return conditions

    @property
    def timed(self) -> bool:
        return hasattr(self.model, "seconds_spent")


SOURCES: tuple[Source, ...] = (
    Source("rating", Rating, tuple(Dimension(d, "ordinal", (1, 2, 3, 4, 5)) for d in RUBRIC), "answer"),
    Source("comparison", Comparison, (Dimension("choice", "nominal", CHOICES),), "pair of answers"),
    Source("moderation", ModerationLabel, (Dimension("label", "nominal", MODERATION_LABELS),), "moderation item"),
    Source("adjudication", Adjudication, (), "moderation item"),
)
BY_QUEUE = {source.queue: source for source in SOURCES}

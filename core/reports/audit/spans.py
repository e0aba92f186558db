"""Span-level agreement between experts: for each answer rated by two or more experts, each pair of them, and each
flag, a span of one "matches" when it overlaps a span of the same flag of the other. Per flag,

    F1 = sum over pairs of (matched spans of one + matched spans of the other) / (spans of one + spans of the other)

which is the F1 of overlapping spans with each expert of a pair in turn as the reference (precision and recall then
pool to the same number). Pairs where neither marked the flag say nothing about it and are left out."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import combinations
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session

from core.reports.judgments import BY_QUEUE
from core.store.models import FLAGS, Rating


@dataclass(frozen=True)
class SpanAgreement:
    label: str
    f1: float | None  # None: no pair of experts marked this flag
    n_answers: int  # answers where a pair of experts compared has a span of this flag
    n_pairs: int
    n_spans: int  # the compared pairs' spans of this flag, each pair counting both sides


def _matched(ours: Sequence[Mapping[str, Any]], theirs: Sequence[Mapping[str, Any]]) -> int:
    return sum(any(a["start"] < b["end"] and b["start"] < a["end"] for b in theirs) for a in ours)


def span_f1(answers: Iterable[Sequence[Sequence[Mapping[str, Any]]]]) -> list[SpanAgreement]:
    """Per flag, from each answer's spans per expert (one list of spans per expert who rated it)."""
    matched, total, pairs, answers_with = defaultdict(int), defaultdict(int), defaultdict(int), defaultdict(int)
    for experts in answers:
        seen = set()
        for one, other in combinations(experts, 2):
            for label in FLAGS:
                a = [s for s in one if s["label"] == label]
                b = [s for s in other if s["label"] == label]
                if not a and not b:
                    continue
                matched[label] += _matched(a, b) + _matched(b, a)
                total[label] += len(a) + len(b)
                pairs[label] += 1
                seen.add(label)
        for label in seen:
            answers_with[label] += 1
    return [
        SpanAgreement(
            label,
            matched[label] / total[label] if total[label] else None,
            answers_with[label],
            pairs[label],
            total[label],
        )
        for label in FLAGS
    ]


def span_agreement(
    session: Session, *, start: datetime | None = None, end: datetime | None = None
) -> list[SpanAgreement]:
    """Span agreement on the ratings made in [start, end) by reviewers, over answers rated by two or more of them of
    which at least one marked a span."""
    in_range = BY_QUEUE["rating"].in_range(start, end)
    shared = (
        select(Rating.response_id)
        .where(*in_range)
        .group_by(Rating.response_id)
        .having(func.count(func.distinct(Rating.user_id)) >= 2, func.max(func.json_array_length(Rating.spans)) > 0)
    )
    rows = session.execute(
        select(Rating.response_id, Rating.user_id, Rating.spans)
        .where(*in_range, Rating.response_id.in_(shared))
        .order_by(Rating.response_id, Rating.user_id)
    ).all()
    by_answer: dict[int, dict[int, list]] = defaultdict(dict)
    for response_id, user_id, spans in rows:
        by_answer[response_id][user_id] = list(spans or [])
    return span_f1(list(experts.values()) for experts in by_answer.values())

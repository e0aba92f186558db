"""Online experiments: per metric the rate per variant and the difference with its interval and a two-proportion
z-test; a sample-ratio-mismatch alarm on the units per variant against the planned split (equal by default)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlmodel import Session

from core.experiments import find_experiment
from core.models import ExperimentEvent
from core.reports.verdict import experiment_verdict
from core.stats.ab import Proportions, SampleRatio, sample_ratio, two_proportions


@dataclass(frozen=True)
class MetricResult:
    metric: str
    rates: Proportions  # A = variant_a, B = variant_b


@dataclass(frozen=True)
class ExperimentReport:
    name: str
    variant_a: str
    variant_b: str
    started_at: datetime | None
    ended_at: datetime | None
    planned_split: dict[str, float]
    srm: SampleRatio
    metrics: list[MetricResult]
    verdict: list[str] = field(default_factory=list)


def experiment_report(session: Session, name: str) -> ExperimentReport:
    experiment = find_experiment(session, name)
    e = ExperimentEvent
    units = dict(
        session.execute(
            select(e.variant, func.count(func.distinct(e.unit_id)))
            .where(e.experiment_id == experiment.id)
            .group_by(e.variant)
        ).all()
    )
    outcomes: dict[str, dict[str, tuple[int, int]]] = {}
    for metric, variant, n, positive in session.execute(
        select(e.metric, e.variant, func.count(), func.sum(e.value))
        .where(e.experiment_id == experiment.id)
        .group_by(e.metric, e.variant)
        .order_by(e.metric)
    ):
        outcomes.setdefault(metric, {})[variant] = (int(positive or 0), n)
    a, b = experiment.variant_a, experiment.variant_b
    metrics = [
        MetricResult(metric, two_proportions(*by_variant.get(a, (0, 0)), *by_variant.get(b, (0, 0))))
        for metric, by_variant in outcomes.items()
    ]
    planned = experiment.planned_split or {v: 0.5 for v in (a, b) if v}
    report = ExperimentReport(
        name, a, b, experiment.started_at, experiment.ended_at, planned, sample_ratio(units, planned), metrics
    )
    return ExperimentReport(**{**report.__dict__, "verdict": experiment_verdict(report)})

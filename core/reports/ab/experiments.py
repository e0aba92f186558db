"""Online experiments: per metric the rate per variant and the difference with its interval and a two-proportion
z-test; a sample-ratio-mismatch alarm on the units per variant against the planned split (equal by default), which a
product owner sets. Experiments are created by importing their events (`import experiment-events`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy import func, select
from sqlmodel import Session

from core import audit
from core.reports.ab.verdict import adjusted_text, family_line, p_text, pct, signed
from core.reports.filters import ReportError
from core.stats.ab import Proportions, SampleRatio, sample_ratio, two_proportions
from core.stats.multiple import UNTESTED, Adjusted, adjust
from core.store.models import Experiment, ExperimentEvent


def experiment_names(session: Session) -> list[str]:
    """Newest first."""
    query = select(Experiment.name).order_by(Experiment.started_at.desc(), Experiment.name)
    return list(session.execute(query).scalars())


def find_experiment(session: Session, name: str) -> Experiment:
    experiment = session.execute(select(Experiment).where(Experiment.name == name)).scalar_one_or_none()
    if experiment is None:
        known = experiment_names(session)
        raise ReportError(
            f"no experiment named {name!r}; known: {', '.join(known) or '(none: import experiment-events first)'}"
        )
    return experiment


def plan_split(session: Session, *, name: str, split: dict[str, float], actor_id: int | None) -> dict[str, float]:
    """Set the planned share of units per variant (normalized to sum to 1), with an audit event."""
    experiment = find_experiment(session, name)
    variants = sorted(v for v in (experiment.variant_a, experiment.variant_b) if v)
    if unknown := sorted(set(split) - set(variants)):
        raise ReportError(
            f"experiment {name!r} has no variant {', '.join(unknown)}; its variants: {', '.join(variants)}"
        )
    if any(share < 0 for share in split.values()) or sum(split.values()) <= 0:
        raise ReportError("planned shares are numbers >= 0 that do not all vanish, e.g. control=0.9 treatment=0.1")
    total = sum(split.values())
    planned = {v: split.get(v, 0.0) / total for v in variants}
    before = dict(experiment.planned_split)
    experiment.planned_split = planned
    session.add(experiment)
    audit.record(
        session,
        actor_id=actor_id,
        action="experiment.plan",
        entity="experiment",
        entity_id=experiment.id,
        before={"planned_split": before},
        after={"planned_split": planned},
    )
    return planned


@dataclass(frozen=True)
class MetricResult:
    metric: str
    rates: Proportions  # A = variant_a, B = variant_b
    adjusted: Adjusted = UNTESTED  # the metrics of one experiment are one family


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
    metrics = [
        replace(m, adjusted=a)
        for m, a in zip(metrics, adjust([0] * len(metrics), [m.rates for m in metrics]), strict=True)
    ]
    planned = experiment.planned_split or {v: 0.5 for v in (a, b) if v}
    report = ExperimentReport(
        name, a, b, experiment.started_at, experiment.ended_at, planned, sample_ratio(units, planned), metrics
    )
    return ExperimentReport(**{**report.__dict__, "verdict": experiment_verdict(report)})


def experiment_verdict(report: ExperimentReport) -> list[str]:
    if not report.metrics:
        return [f"No events of experiment {report.name} yet."]
    lines = []
    units = ", ".join(f"{v}: {n:,}" for v, n in sorted(report.srm.observed.items()))
    if report.srm.alarm:
        lines.append(
            f"Sample ratio mismatch: the units per variant ({units}) do not fit the planned split "
            f"({p_text(report.srm.p_value)}). Find the cause before trusting any result below."
        )
    elif not math.isnan(report.srm.p_value):
        lines.append(f"Units per variant ({units}) fit the planned split ({p_text(report.srm.p_value)}).")
    a, b = report.variant_a, report.variant_b
    for m in report.metrics:
        r, adjusted = m.rates, m.adjusted
        if not adjusted.tests:
            lines.append(f"{m.metric}: not measured in both variants yet.")
            continue
        low, high = signed(100 * adjusted.ci_low), signed(100 * adjusted.ci_high)
        interval = f"{signed(100 * r.difference)} points [{low}, {high}]"
        rates = f"{pct(r.rate_b, 1)} in {b} against {pct(r.rate_a, 1)} in {a}"
        if adjusted.shown:
            direction = "higher" if r.difference > 0 else "lower"
            lines.append(f"{m.metric}: {direction} in {b}: {rates}, {interval} ({adjusted_text(r.p_value, adjusted)}).")
        else:
            lines.append(
                f"{m.metric}: no difference shown ({rates}, {interval}; {adjusted_text(r.p_value, adjusted)})."
            )
    return lines + family_line(max((m.adjusted.tests for m in report.metrics), default=0))

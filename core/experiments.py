"""Online experiments as settings: which exist, and the planned split of units between their two variants.

Experiments are created by importing their events (`import experiment-events`); their report is
core.reports.experiments."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session

from core import audit
from core.models import Experiment
from core.reports.filters import ReportError


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

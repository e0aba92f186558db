"""Online experiment events: each row one unit (user, session) in one variant with its 0/1 outcomes, stored long
(one ExperimentEvent per metric) so that rates per variant aggregate in SQL.

An experiment is created at its first event, with the variants seen (sorted: `variant_a` is the first); it keeps
two variants, each unit stays in one variant, and `started_at` / `ended_at` follow the earliest and latest event."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update

from core.ingest.context import Context, Numbered, WriteProblem, table
from core.ingest.read import Problem
from core.store.models import Experiment, ExperimentEvent

FIXED = ("experiment", "unit_id", "variant", "at")


def experiment_csv(record: dict[str, str]) -> dict[str, Any]:
    """CSV: the fixed columns, then one column per metric; an empty metric cell means not measured for that unit."""
    return {k: v for k, v in record.items() if k in FIXED or v.strip() != ""}


def write_experiment_events(ctx: Context, batch: Numbered) -> int:
    experiments = _experiments(ctx, batch)
    _check_units(ctx, batch, experiments)
    ctx.insert_ignore(
        ExperimentEvent,
        [
            {
                "experiment_id": experiments[row.experiment],
                "unit_id": row.unit_id,
                "variant": row.variant,
                "metric": metric,
                "value": float(value),
                "at": row.at,
            }
            for _, row in batch
            for metric, value in row.metrics().items()
        ],
    )
    return sum(len(row.metrics()) for _, row in batch)


def _experiments(ctx: Context, batch: Numbered) -> dict[str, int]:
    """Experiment name -> id, creating new ones; keeps each one's two variants and its first and last event."""
    names = {row.experiment for _, row in batch}
    ctx.insert_ignore(
        Experiment,
        [{"name": n, "variant_a": "", "variant_b": "", "metric": None, "planned_split": {}} for n in names],
    )
    t = table(Experiment)
    known = {
        name: (id_, {v for v in (a, b) if v}, started, ended)
        for name, id_, a, b, started, ended in ctx.conn.execute(
            select(t.c.name, t.c.id, t.c.variant_a, t.c.variant_b, t.c.started_at, t.c.ended_at).where(
                t.c.name.in_(names)
            )
        )
    }
    for name, (id_, variants, started, ended) in known.items():
        rows = [(line, row) for line, row in batch if row.experiment == name]
        seen = set(variants)
        for line, row in rows:
            seen.add(row.variant)
            if len(seen) > 2:
                raise WriteProblem(
                    Problem(
                        line,
                        "variant",
                        f"experiment {name!r} has the variants {', '.join(sorted(seen - {row.variant}))} already: "
                        f"{row.variant!r} would be a third (an A/B experiment has two)",
                    )
                )
        first, last = min(row.at for _, row in rows), max(row.at for _, row in rows)
        pair = sorted(seen) + [""] * (2 - len(seen))
        ctx.conn.execute(
            update(t)
            .where(t.c.id == id_)
            .values(
                variant_a=pair[0],
                variant_b=pair[1],
                started_at=min(first, started) if started else first,
                ended_at=max(last, ended) if ended else last,
            )
        )
    return {name: id_ for name, (id_, *_) in known.items()}


def _check_units(ctx: Context, batch: Numbered, experiments: dict[str, int]) -> None:
    """A unit stays in one variant: across the file and against the events already stored."""
    e = table(ExperimentEvent)
    units = {row.unit_id for _, row in batch}
    stored = ctx.conn.execute(
        select(e.c.experiment_id, e.c.unit_id, func.min(e.c.variant))
        .where(e.c.experiment_id.in_(set(experiments.values())), e.c.unit_id.in_(units))
        .group_by(e.c.experiment_id, e.c.unit_id)
    )
    variant_of = {(exp, unit): (variant, "in the store") for exp, unit, variant in stored}
    for line, row in batch:
        key = (experiments[row.experiment], row.unit_id)
        variant, where = variant_of.setdefault(key, (row.variant, f"on line {line}"))
        if variant != row.variant:
            raise WriteProblem(
                Problem(
                    line,
                    "variant",
                    f"unit {row.unit_id!r} of experiment {row.experiment!r} is in variant {variant!r} {where}: "
                    "a unit stays in one variant",
                )
            )

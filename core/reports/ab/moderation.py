"""Two moderation classifier versions against the human final labels (core.moderation.final_labels), overall and
per slice of every metadata field the items carry (language, source, segment, ...): the fairness view.

SQL counts (version, predicted label, final label), and for the items both versions scored (A's label, B's label,
final label), optionally per value of one `meta` field (JSON access that works on SQLite and PostgreSQL)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from sqlalchemy import ColumnElement, func, select, true
from sqlalchemy.orm import aliased
from sqlmodel import Session

from core.moderation.final_labels import final_labels
from core.reports.ab.verdict import adjusted_text, family_line, metric_text, signed
from core.reports.filters import Filters, ReportError, version_ids
from core.stats.classification import (
    Confusion,
    McNemar,
    MetricDifference,
    confusion,
    discordance,
    joint_cells,
    mcnemar_test,
    metric_differences,
)
from core.stats.multiple import UNTESTED, Adjusted, adjust
from core.store.models import ModerationItem, ModerationScore

BOOTSTRAP_ROUNDS = 1000
MAX_VALUES = 30  # a field with more distinct values among the labelled items (an id, a free text) is not sliced
NO_VALUE = "(none)"
SCALAR_TYPES = {"sqlite": ("text", "integer", "real", "true", "false"), "postgresql": ("string", "number", "boolean")}


@dataclass(frozen=True)
class SliceResult:
    field: str
    value: str
    a: Confusion
    b: Confusion
    mcnemar: McNemar
    adjusted: Adjusted = UNTESTED  # among the slices of its field


@dataclass(frozen=True)
class Difference:
    """A metric's difference B - A on the items both scored, corrected within the verdict's family."""

    difference: MetricDifference
    adjusted: Adjusted


@dataclass(frozen=True)
class ModerationReport:
    filters: Filters
    a: Confusion
    b: Confusion
    mcnemar: McNemar
    mcnemar_adjusted: Adjusted
    differences: list[Difference]  # one per metric, on the items both versions scored
    fields: list[str]  # the metadata fields sliced
    skipped_fields: list[str]  # fields with too many values to slice
    slices: list[SliceResult]
    verdict: list[str] = field(default_factory=list)


def moderation_report(
    session: Session, filters: Filters, *, rounds: int = BOOTSTRAP_ROUNDS, seed: int = 0
) -> ModerationReport:
    """Both versions on the items with a final label that arrived in the time range (deterministic for a seed)."""
    if filters.topic:
        raise ReportError("topics belong to chatbot prompts: a moderation report is sliced by the items' metadata")
    a, b = version_ids(session, filters, "moderation")
    rng = np.random.default_rng(seed)
    singles = _single_counts(session, filters, a, b, None)[None]
    joint = _paired_counts(session, filters, a, b, None)[None]
    mcnemar = mcnemar_test(*discordance(joint))
    differences = metric_differences(joint, rounds=rounds, rng=rng)
    adjusted = adjust([0] * (1 + len(differences)), [mcnemar, *differences])
    overall = (
        confusion(filters.a, *singles[a], rounds=rounds, rng=rng),
        confusion(filters.b, *singles[b], rounds=rounds, rng=rng),
        mcnemar,
        adjusted[0],
        [Difference(d, adj) for d, adj in zip(differences, adjusted[1:], strict=True)],
    )
    fields, skipped, slices = [], [], []
    for name in _meta_fields(session, filters, a, b):
        singles = _single_counts(session, filters, a, b, name)
        if len(singles) > MAX_VALUES:
            skipped.append(name)
            continue
        fields.append(name)
        paired = _paired_counts(session, filters, a, b, name)
        for value in sorted(singles):
            slices.append(
                SliceResult(
                    name,
                    value,
                    confusion(filters.a, *singles[value][a], rounds=rounds, rng=rng),
                    confusion(filters.b, *singles[value][b], rounds=rounds, rng=rng),
                    mcnemar_test(*discordance(paired.get(value, np.zeros(8)))),
                )
            )
    families = [(s.field,) for s in slices]
    slices = [
        replace(s, adjusted=a) for s, a in zip(slices, adjust(families, [s.mcnemar for s in slices]), strict=True)
    ]
    report = ModerationReport(filters, *overall, fields, skipped, slices)
    return ModerationReport(**{**report.__dict__, "verdict": moderation_verdict(report)})


def _slice(name: str | None) -> list[ColumnElement]:
    """The value of one meta field to group by (JSON access on SQLite and PostgreSQL), or nothing."""
    return [ModerationItem.meta[name].as_string()] if name else []


def _single_counts(session: Session, filters: Filters, a: int, b: int, name: str | None) -> dict:
    """value -> version -> [tp, fp, fn, tn] (value None when not sliced)."""
    final, score = final_labels(), ModerationScore
    part = _slice(name)
    query = (
        select(*part, score.model_version_id, score.predicted_label, final.c.label, func.count())
        .join(final, final.c.item_id == score.item_id)
        .join(ModerationItem, ModerationItem.id == score.item_id)
        .where(score.model_version_id.in_([a, b]), filters.window(ModerationItem.created_at))
        .group_by(*part, score.model_version_id, score.predicted_label, final.c.label)
    )
    counts: dict = {None: {a: [0, 0, 0, 0], b: [0, 0, 0, 0]}} if name is None else {}
    for *value, version, predicted, truth, n in session.execute(query):
        cells = counts.setdefault(_value(value, name), {a: [0, 0, 0, 0], b: [0, 0, 0, 0]})
        cells[version][_cell(predicted, truth)] += n
    return counts


def _paired_counts(session: Session, filters: Filters, a: int, b: int, name: str | None) -> dict:
    """value -> the eight joint cells (core.stats.classification.joint_cells) of the items both versions scored."""
    final, score_a, score_b = final_labels(), aliased(ModerationScore), aliased(ModerationScore)
    part = _slice(name)
    query = (
        select(*part, score_a.predicted_label, score_b.predicted_label, final.c.label, func.count())
        .join(score_b, (score_b.item_id == score_a.item_id) & (score_b.model_version_id == b))
        .join(final, final.c.item_id == score_a.item_id)
        .join(ModerationItem, ModerationItem.id == score_a.item_id)
        .where(score_a.model_version_id == a, filters.window(ModerationItem.created_at))
        .group_by(*part, score_a.predicted_label, score_b.predicted_label, final.c.label)
    )
    counts: dict = {None: np.zeros(8)} if name is None else {}
    for *value, label_a, label_b, truth, n in session.execute(query):
        counts.setdefault(_value(value, name), np.zeros(8))[joint_cells(label_a, label_b, truth)] += n
    return counts


def _cell(predicted: str, truth: str) -> int:
    """Index in [tp, fp, fn, tn]."""
    return {("toxic", "toxic"): 0, ("toxic", "not_toxic"): 1, ("not_toxic", "toxic"): 2}.get((predicted, truth), 3)


def _value(value: list, name: str | None) -> str | None:
    """The slice a grouped row belongs to: None when not sliced, NO_VALUE for items without the field."""
    if name is None:
        return None
    return NO_VALUE if value[0] is None else str(value[0])


def _meta_fields(session: Session, filters: Filters, a: int, b: int) -> list[str]:
    """Keys with scalar values (text, number, true/false) in the meta of the labelled items A or B scored."""
    final = final_labels()
    items = (
        select(ModerationScore.item_id)
        .join(final, final.c.item_id == ModerationScore.item_id)
        .where(ModerationScore.model_version_id.in_([a, b]))
    )
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        entries = func.json_each(ModerationItem.meta).table_valued("key", "type").alias("entry")
        key, kind = entries.c.key, entries.c.type
    else:
        entries = func.json_object_keys(ModerationItem.meta).table_valued("key").render_derived(name="entry")
        key = entries.c.key
        kind = func.json_typeof(ModerationItem.meta.op("->")(key))
    query = select(key).select_from(ModerationItem).join(entries, true())
    query = query.where(
        ModerationItem.id.in_(items), filters.window(ModerationItem.created_at), kind.in_(SCALAR_TYPES[dialect])
    )
    return sorted(session.execute(query.distinct()).scalars())


def moderation_verdict(report: ModerationReport) -> list[str]:
    f, m = report.filters, report.mcnemar
    if report.a.n == 0 and report.b.n == 0:
        return [
            f"No items with a final human label scored by {f.a} or {f.b} in this range: label some "
            "(moderation queue, or import labels) to compare the classifiers."
        ]
    lines = []
    if m.n == 0:
        lines.append(f"No labelled item was scored by both {f.a} and {f.b}: no paired comparison.")
    else:
        counts = f"{f.b} is right where {f.a} is wrong on {m.b_only:,} items, the reverse on {m.a_only:,}"
        tested = f"McNemar {adjusted_text(m.p_value, report.mcnemar_adjusted)}"
        if report.mcnemar_adjusted.shown:
            better = f.b if m.b_only > m.a_only else f.a
            lines.append(
                f"{better} makes fewer mistakes on the {m.n:,} labelled items both scored: {counts} ({tested})."
            )
        else:
            lines.append(f"Mistakes on the {m.n:,} items both scored: no difference shown ({counts}; {tested}).")
    for d in sorted(report.differences, key=lambda d: d.difference.metric != "f1"):
        name = d.difference.metric
        a, b = report.a.metric(name), report.b.metric(name)
        each = f"{f.b} {metric_text(b, short=True)}, {f.a} {metric_text(a, short=True)}"
        if name == "f1":
            each = f"{f.b} {metric_text(b)} against {f.a} {metric_text(a)} (95% intervals)"
        if not d.adjusted.tests:
            lines.append(f"{report.a.label(name)}: {each}.")
            continue
        change = f"{signed(d.difference.difference)} [{signed(d.adjusted.ci_low)}, {signed(d.adjusted.ci_high)}]"
        shown = "shown" if d.adjusted.shown else "no difference shown"
        tested = adjusted_text(d.difference.p_value, d.adjusted)
        lines.append(f"{report.a.label(name)}: {each}; on the items both scored {change}, {shown} ({tested}).")
    worse = [s for s in report.slices if s.adjusted.shown and s.mcnemar.a_only > s.mcnemar.b_only]
    if worse:
        named = ", ".join(f"{s.field} = {s.value}" for s in worse)
        lines.append(f"Slices where {f.b} makes more mistakes than {f.a} (McNemar, adjusted per field): {named}.")
    elif report.slices:
        lines.append(f"No slice (by {', '.join(report.fields)}) where {f.b} makes more mistakes than {f.a} is shown.")
    return lines + family_line(report.mcnemar_adjusted.tests)

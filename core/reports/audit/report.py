"""The audit report: agreement (per queue and dimension, per pair of reviewers, per reviewer), audit-sample pass
rates and flag triage counts, in one object for the CLI (`python -m core report audit`) and the pages."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session

from core.oversight.flags import FlagCount, flag_counts
from core.oversight.samples import PassRates, SampleSummary, list_samples, pass_rates
from core.reports.audit.agreement import SECONDS_RULE, AgreementReport, agreement_report
from core.reports.audit.spans import SpanAgreement, span_agreement
from core.reports.flat import as_data, long_rows


@dataclass(frozen=True)
class AuditReport:
    agreement: AgreementReport
    samples: list[SampleSummary]
    pass_rates: PassRates
    flags: list[FlagCount]
    span_agreement: list[SpanAgreement]


def audit_report(session: Session, *, start: datetime | None = None, end: datetime | None = None) -> AuditReport:
    """Agreement on the judgments made in [start, end) (all by default); every audit sample; flags now."""
    return AuditReport(
        agreement_report(session, start=start, end=end),
        list_samples(session),
        pass_rates(session),
        flag_counts(session),
        span_agreement(session, start=start, end=end),
    )


def audit_json(report: AuditReport) -> dict[str, Any]:
    """agreement -> queue -> dimension -> {krippendorff_alpha, fleiss_kappa, n_items, ...}, and the rest."""
    agreement: dict[str, dict[str, Any]] = {}
    for d in report.agreement.dimensions:
        agreement.setdefault(d.queue, {})[d.dimension] = {
            "krippendorff_alpha": d.krippendorff_alpha,
            "fleiss_kappa": d.fleiss_kappa,
            "n_items": d.n_items,
            "n_items_fleiss": d.n_items_fleiss,
            "n_judgments": d.n_judgments,
            "level": d.level,
        }
    a = report.agreement
    return {
        "range": {"start": as_data(a.start), "end": as_data(a.end)},
        "agreement": agreement,
        "queue_agreement_with_consensus": a.queue_agreement,
        "queue_seconds_per_item": as_data(a.queue_seconds),
        "pairwise_cohen_kappa": as_data(a.pairs),
        "reviewers": as_data(a.reviewers),
        "rules": {"consensus": a.consensus_rule, "outlier": a.outlier_rule, "seconds": SECONDS_RULE},
        "audit_samples": as_data(report.samples),
        "pass_rates": as_data(report.pass_rates),
        "flags": {f.flag: {"open": f.open, "confirmed": f.confirmed, "dismissed": f.dismissed} for f in report.flags},
        "span_agreement": {
            s.label: {"f1": s.f1, "n_answers": s.n_answers, "n_pairs": s.n_pairs, "n_spans": s.n_spans}
            for s in report.span_agreement
        },
    }


def audit_csv_rows(report: AuditReport) -> Iterator[tuple[Any, ...]]:
    a = report.agreement
    yield from long_rows("agreement", a.dimensions)
    yield from long_rows("pairwise_cohen_kappa", a.pairs)
    yield from long_rows("reviewers", a.reviewers)
    for queue, spread in a.queue_seconds.items():
        yield from (("queue_seconds_per_item", queue, metric, value) for metric, value in as_data(spread or {}).items())
    yield from long_rows("audit_samples", report.samples)
    yield from long_rows("pass_rate_by_queue", report.pass_rates.by_queue)
    yield from long_rows("pass_rate_by_reviewer", report.pass_rates.by_reviewer)
    yield from long_rows("flags", report.flags)
    yield from long_rows("span_agreement", report.span_agreement)

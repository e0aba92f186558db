"""Held-out metrics of a moderation classifier (scikit-learn's), and the summary a retrain stores on its version."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlmodel import Session

from core.jobs.gate import GateDecision
from core.store.models import ModelVersion
from core.store.versions import newest_first

METRICS = ("precision", "recall", "f1", "roc_auc")


def binary_metrics(
    y_true: np.ndarray, scores: np.ndarray | None, threshold: float = 0.5, labels: np.ndarray | None = None
) -> dict[str, Any]:
    """Precision, recall and F1 of the predicted labels (`labels`, or scores >= threshold) and the ROC AUC of the
    scores (None without scores, or when the items hold one class only)."""
    from sklearn.metrics import precision_recall_fscore_support, roc_auc_score

    y_true = np.asarray(y_true, dtype=int)
    predicted = np.asarray(labels if labels is not None else np.asarray(scores) >= threshold, dtype=int)
    precision, recall, f1, _ = precision_recall_fscore_support(
        y_true, predicted, average="binary", pos_label=1, zero_division=0
    )
    auc = None
    if scores is not None and 0 < y_true.sum() < len(y_true):
        auc = float(roc_auc_score(y_true, scores))
    return {
        "n": len(y_true),
        "positives": int(y_true.sum()),
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
        "roc_auc": auc,
    }


@dataclass(frozen=True)
class RetrainSummary:
    """What a retrain did, stored in the new version's meta["retrain"]; `metrics` and `previous_metrics` map
    "overall" and each category with enough labels to binary_metrics() on the same held-out items."""

    version: str
    previous: str | None
    embedding_model: str
    labels: int  # final labels used, train + test
    external: int  # of which external (imported from another tool or a public dataset)
    adjudicated: int  # of which decided by an expert
    toxic: int
    train_items: int
    test_items: int
    previous_test_items: int  # held-out items the previous version had scored
    c: float  # the regularisation chosen by cross-validation
    metrics: dict[str, dict[str, Any]]
    previous_metrics: dict[str, dict[str, Any]]
    embedded: int  # items embedded by this run (the rest were stored)
    scored: int
    queue_waiting: int  # borderline items waiting after the rebuild
    newest_label_at: str | None
    ready_at: str
    loop_seconds: float | None
    seconds: dict[str, float] = field(default_factory=dict)
    artifact: str = ""
    gate: dict[str, Any] = field(default_factory=dict)  # the promotion gate's decision (core.jobs.gate.GateDecision)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RetrainSummary:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def comparison(self) -> list[dict[str, Any]]:
        """One row per metric set (overall, then categories): the new version's figure beside the previous one's."""
        rows = []
        for scope, new in self.metrics.items():
            old = self.previous_metrics.get(scope) or {}
            row = {"scope": scope, "held-out items": new["n"], "positives": new["positives"]}
            for metric in METRICS:
                row[metric] = new[metric]
                row[f"{metric} (previous)"] = old.get(metric)
            rows.append(row)
        return rows

    def loop_time(self) -> str:
        if self.loop_seconds is None:
            return "-"
        hours, rest = divmod(int(self.loop_seconds), 3600)
        return f"{hours} h {rest // 60:02d} min" if hours else f"{rest // 60} min {rest % 60:02d} s"

    def lines(self) -> list[str]:
        """The summary as the command line prints it."""
        out = [
            f"new version {self.version} (previous: {self.previous or 'none'}), ready at {self.ready_at}",
            f"trained on {self.labels:,} final labels: {self.external:,} external (imported), "
            f"{self.adjudicated:,} adjudicated, {self.toxic:,} toxic; {self.train_items:,} to train, "
            f"{self.test_items:,} held out (stratified)",
            f"{'scope':<14} {'n':>5} " + " ".join(f"{m:>17}" for m in METRICS) + "   (new / previous)",
        ]
        for row in self.comparison():
            figures = " ".join(f"{_fmt(row[m]):>8} / {_fmt(row[m + ' (previous)']):<6}" for m in METRICS)
            out.append(f"{row['scope']:<14} {row['held-out items']:>5} {figures}")
        out.append(
            f"embedded {self.embedded:,} new items; scored {self.scored:,} items; "
            f"{self.queue_waiting:,} borderline items waiting in the queue"
        )
        stages = ", ".join(f"{stage} {s:.1f} s" for stage, s in self.seconds.items())
        out.append(f"loop time (newest label used -> new version ready): {self.loop_time()}; {stages}")
        if self.gate:
            out.append(f"promotion gate: {GateDecision.from_dict(self.gate).line()}")
        return out


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def latest_retrain(session: Session) -> RetrainSummary | None:
    """The summary of the newest retrained moderation version, if any."""
    versions = session.execute(select(ModelVersion).where(ModelVersion.kind == "moderation")).scalars()
    for version in newest_first(versions):
        if version.meta and "retrain" in version.meta:
            return RetrainSummary.from_dict(version.meta["retrain"])
    return None

"""Retraining the moderation classifier from the final human labels, in one action:

embed what is missing -> read the final labels (core.moderation.final_labels; imported external ones count and are
counted apart) -> a stratified held-out split -> logistic regression on the stored sentence embeddings (and one per
category with enough labels) -> metrics of the new version and of the current one (the version the queue follows:
"previous" below) on the same held-out items -> register the new version (artifact under
ARTIFACTS_DIR/moderation/<version>/) -> re-score every item (a matrix product per shard of stored vectors) -> the
promotion gate (core.moderation.gate: promoted, or a candidate) -> rebuild the borderline queue. Registering, scoring,
the gate and the rebuild are one transaction: a failed retrain leaves no half-scored version behind.

The loop time is from the newest final label used (its label, change or adjudication) to the new version being
ready: registered, every item scored, the queue rebuilt."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import Engine, select
from sqlmodel import Session

from core import audit
from core.moderation import ModerationError
from core.moderation.borderline import DEFAULT_BAND, DEFAULT_THRESHOLD, VersionSettings
from core.moderation.embeddings import Embedder, default_embedder, embed_missing, store_for
from core.moderation.final_labels import final_categories, final_labels
from core.moderation.gate import current_version, gate_version
from core.moderation.metrics import RetrainSummary, binary_metrics
from core.moderation.scoring import CATEGORY_THRESHOLD, Classifier
from core.review.queues import queue_status
from core.review.sync import sync_queue
from core.store.db import refresh_statistics, session_scope
from core.store.models import CATEGORIES, ModelVersion, ModerationScore, utcnow

MIN_PER_CLASS = 5  # final labels of each class needed to train at all
MIN_CATEGORY_POSITIVES = 10  # training items with a category needed to train (and report) a classifier for it
C_GRID = (1.0, 10.0, 100.0)  # unit-length embeddings need little regularisation; 3-fold cross-validated

Progress = Callable[[str, float], None]  # (stage, fraction of that stage done)


@dataclass(frozen=True)
class Labels:
    """Every final label, one entry per item (arrays in item order)."""

    ids: np.ndarray
    toxic: np.ndarray  # 0/1
    external: np.ndarray  # 0/1: any of the item's labels was imported
    adjudicated: np.ndarray  # 0/1
    categories: dict[int, list[str]]
    newest: datetime | None  # the newest decision among them
    previous: VersionSettings | None  # the current version (the newest feeding the queue) before this retrain


def _read_labels(session: Session) -> Labels:
    final = final_labels()
    rows = session.execute(
        select(final.c.item_id, final.c.label, final.c.external, final.c.basis, final.c.decided_at).order_by(
            final.c.item_id
        )
    ).all()
    toxic = np.array([r[1] == "toxic" for r in rows], dtype=np.int8)
    counts = {"toxic": int(toxic.sum()), "not toxic": int(len(toxic) - toxic.sum())}
    if min(counts.values()) < MIN_PER_CLASS:
        raise ModerationError(
            f"too few final labels to train: {counts['toxic']} toxic and {counts['not toxic']} not toxic; "
            f"at least {MIN_PER_CLASS} of each are needed (label or adjudicate more items, or import labels)"
        )
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    return Labels(
        ids=ids,
        toxic=toxic,
        external=np.array([r[2] for r in rows], dtype=np.int8),
        adjudicated=np.array([r[3] == "adjudication" for r in rows], dtype=np.int8),
        categories=final_categories(session, ids),
        newest=max((r[4] for r in rows), default=None),
        previous=current_version(session),
    )


def _fit(x: np.ndarray, y: np.ndarray, seed: int, c: float | None = None):
    from sklearn.linear_model import LogisticRegression, LogisticRegressionCV

    if c is not None:
        return LogisticRegression(C=c, max_iter=2000).fit(x, y)
    model = LogisticRegressionCV(
        Cs=list(C_GRID),
        l1_ratios=(0.0,),
        cv=int(min(3, np.bincount(y).min())),
        scoring="neg_log_loss",
        max_iter=2000,
        random_state=seed,
        use_legacy_attributes=False,
    )
    return model.fit(x, y)


def _train(x: np.ndarray, labels: Labels, train: np.ndarray, test: np.ndarray, embedder: Embedder, seed: int):
    """The classifier, and each category's labels (0/1 per item) for the categories it learnt."""
    model = _fit(x[train], labels.toxic[train], seed)
    classifier = Classifier(model, DEFAULT_THRESHOLD, embedder.name)
    named = {}
    for category in CATEGORIES:
        y = np.array([category in labels.categories[int(i)] for i in labels.ids], dtype=np.int8)
        if y[train].sum() >= MIN_CATEGORY_POSITIVES and y[test].sum() >= 1 and (y[train] == 0).any():
            classifier.categories[category] = _fit(x[train], y[train], seed, float(model.C_))
            named[category] = y
    return classifier, named


def _evaluate(engine, classifier: Classifier, x, labels: Labels, test, named) -> tuple[dict, dict, np.ndarray | None]:
    """Held-out metrics of the new classifier and of the previous version (its stored scores) on the same items, and
    the joint cells of the items both scored (core.stats.classification.joint_counts: previous as A, new as B), for
    the promotion gate (None when the previous version scored none of them)."""
    from core.stats.classification import joint_counts

    ids, y = labels.ids[test], labels.toxic[test]
    new_scores = classifier.model.predict_proba(x[test])[:, 1]
    metrics = {"overall": binary_metrics(y, new_scores, classifier.threshold)}
    for category, model in classifier.categories.items():
        scores = model.predict_proba(x[test])[:, 1]
        metrics[category] = binary_metrics(named[category][test], scores, CATEGORY_THRESHOLD)
    if labels.previous is None:
        return metrics, {}, None
    s = ModerationScore
    columns = (s.item_id, s.score, s.predicted_label, s.categories)
    with session_scope(engine) as session:
        rows = session.execute(
            select(*columns).where(s.model_version_id == labels.previous.id, s.item_id.in_(ids.tolist()))
        )
        old = {item: (score, label, cats) for item, score, label, cats in rows}
    scored = np.array([int(i) in old for i in ids], dtype=bool)
    if not scored.any():
        return metrics, {}, None
    rows = [old[int(i)] for i in ids[scored]]
    old_toxic = np.array([r[1] == "toxic" for r in rows])
    joint = joint_counts(old_toxic, new_scores[scored] >= classifier.threshold, y[scored] == 1)
    previous = {
        "overall": binary_metrics(
            y[scored], np.array([r[0] for r in rows]), labels=np.array([r[1] == "toxic" for r in rows])
        )
    }
    for category in classifier.categories:
        shown = np.array([category in r[2] for r in rows])
        previous[category] = binary_metrics(named[category][test][scored], None, labels=shown)
    return metrics, previous, joint


def retrain(
    engine: Engine | None = None,
    *,
    embedder: Embedder | None = None,
    name: str | None = None,
    test_size: float = 0.2,
    seed: int = 0,
    actor_id: int | None = None,
    progress: Progress | None = None,
) -> RetrainSummary:
    """Train, evaluate, register, re-score every item and rebuild the queue; see the module docstring."""
    from sklearn.model_selection import train_test_split

    report = progress or (lambda stage, fraction: None)
    started, timings = time.perf_counter(), {}
    embedder = embedder or default_embedder()
    name = name or f"modclf-{utcnow():%Y%m%d-%H%M%S}"
    with session_scope(engine) as session:
        if session.execute(select(ModelVersion.id).where(ModelVersion.name == name)).first():
            raise ModerationError(f"a model version named {name!r} exists already: choose another name")
    embedded = embed_missing(engine, embedder=embedder, progress=lambda d, t: report("embed", d / max(t, 1)))
    timings["embed"] = time.perf_counter() - started

    clock = time.perf_counter()
    report("fit", 0.0)
    with session_scope(engine) as session:
        labels = _read_labels(session)
    store = store_for(embedder, engine)
    x = store.vectors_for(labels.ids)
    train, test = train_test_split(
        np.arange(len(labels.ids)), test_size=test_size, stratify=labels.toxic, random_state=seed
    )
    classifier, named = _train(x, labels, train, test, embedder, seed)
    timings["fit"] = time.perf_counter() - clock

    clock = time.perf_counter()
    report("evaluate", 0.0)
    metrics, previous_metrics, joint = _evaluate(engine, classifier, x, labels, test, named)
    artifact = classifier.save(name)
    timings["evaluate"] = time.perf_counter() - clock

    clock = time.perf_counter()
    band = labels.previous.band if labels.previous else DEFAULT_BAND
    with session_scope(engine, write=True) as session:
        version = ModelVersion(name=name, kind="moderation", meta={"threshold": classifier.threshold, "band": band})
        session.add(version)
        session.flush()
        scored = classifier.rescore(session, store, version.id, report)
        timings["score"] = time.perf_counter() - clock
        clock = time.perf_counter()
        report("queue", 0.0)
        decision = gate_version(session, version, labels.previous, joint)
        sync_queue(session, "moderation")
        waiting = next(q.waiting for q in queue_status(session) if q.queue == "moderation")
        timings["queue"] = time.perf_counter() - clock
        ready_at = utcnow()
        timings["total"] = time.perf_counter() - started
        summary = RetrainSummary(
            version=name,
            previous=labels.previous.name if labels.previous else None,
            embedding_model=embedder.name,
            labels=len(labels.ids),
            external=int(labels.external.sum()),
            adjudicated=int(labels.adjudicated.sum()),
            toxic=int(labels.toxic.sum()),
            train_items=len(train),
            test_items=len(test),
            previous_test_items=int(joint.sum()) if joint is not None else 0,
            c=float(classifier.model.C_),
            metrics=metrics,
            previous_metrics=previous_metrics,
            embedded=embedded.embedded,
            scored=scored,
            queue_waiting=waiting,
            newest_label_at=labels.newest.isoformat() if labels.newest else None,
            ready_at=ready_at.isoformat(),
            loop_seconds=(ready_at - labels.newest).total_seconds() if labels.newest else None,
            seconds={stage: round(s, 3) for stage, s in timings.items()},
            artifact=str(artifact),
            gate=decision.as_dict(),
        )
        _register(session, version, summary, actor_id)
    refresh_statistics(engine)
    report("done", 1.0)
    return summary


def _register(session: Session, version: ModelVersion, summary: RetrainSummary, actor_id: int | None) -> None:
    version.notes = (
        f"Retrained on {summary.labels:,} final human labels ({summary.external:,} external); "
        f"embeddings {summary.embedding_model} + logistic regression."
    )
    version.meta = version.meta | {"retrain": summary.as_dict()}
    session.add(version)
    audit.record(
        session,
        actor_id=actor_id,
        action="model_version.retrain",
        entity="model_version",
        entity_id=version.id,
        after={
            "name": summary.version,
            "labels": summary.labels,
            "metrics": summary.metrics["overall"],
            "loop_seconds": summary.loop_seconds,
        },
    )

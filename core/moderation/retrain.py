"""Retraining the moderation classifier from the final human labels, in one action:

embed what is missing -> read the final labels (core.moderation.final_labels; imported external ones count and are
counted apart) -> a stratified held-out split -> logistic regression on the stored sentence embeddings (and one per
category with enough labels) -> metrics of the new version and of the previous one on the same held-out items ->
register the new version (artifact under ARTIFACTS_DIR/moderation/<version>/) -> re-score every item (a matrix
product per shard of stored vectors) -> rebuild the borderline queue. Registering, scoring and the rebuild are one
transaction: a failed retrain leaves no half-scored version behind.

The loop time is from the newest final label used (its label, change or adjudication) to the new version being
ready: registered, every item scored, the queue rebuilt."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import Engine, select
from sqlmodel import Session

from core import audit
from core.config import get_settings
from core.db import session_scope
from core.models import CATEGORIES, ModelVersion, ModerationScore, utcnow
from core.moderation import ModerationError
from core.moderation.borderline import DEFAULT_BAND, DEFAULT_THRESHOLD, moderation_versions
from core.moderation.embeddings import Embedder, EmbeddingStore, default_embedder, embed_missing, store_for
from core.moderation.final_labels import final_categories, final_labels
from core.moderation.metrics import RetrainSummary, binary_metrics
from core.queue_sync import sync_queue
from core.queues import queue_status

MIN_PER_CLASS = 5  # final labels of each class needed to train at all
MIN_CATEGORY_POSITIVES = 10  # items with a category needed to train (and report) a classifier for it
CATEGORY_THRESHOLD = 0.5
C_GRID = (1.0, 10.0, 100.0)  # unit-length embeddings need little regularisation; 3-fold cross-validated

Progress = Callable[[str, float], None]  # (stage, fraction of that stage done)


def _labelled(session: Session) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, datetime | None]:
    """Item ids, toxic (0/1), external (0/1), adjudicated (0/1) of every final label, and the newest decision."""
    final = final_labels()
    rows = session.execute(
        select(final.c.item_id, final.c.label, final.c.external, final.c.basis, final.c.decided_at).order_by(
            final.c.item_id
        )
    ).all()
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    toxic = np.array([r[1] == "toxic" for r in rows], dtype=np.int8)
    external = np.array([r[2] for r in rows], dtype=np.int8)
    adjudicated = np.array([r[3] == "adjudication" for r in rows], dtype=np.int8)
    newest = max((r[4] for r in rows), default=None)
    return ids, toxic, external, adjudicated, newest


def _check(toxic: np.ndarray) -> None:
    counts = {"toxic": int(toxic.sum()), "not toxic": int(len(toxic) - toxic.sum())}
    if min(counts.values()) < MIN_PER_CLASS:
        raise ModerationError(
            f"too few final labels to train: {counts['toxic']} toxic and {counts['not toxic']} not toxic; "
            f"at least {MIN_PER_CLASS} of each are needed (label or adjudicate more items, or import labels)"
        )


def _fit(x: np.ndarray, y: np.ndarray, seed: int, c: float | None = None):
    from sklearn.linear_model import LogisticRegression, LogisticRegressionCV

    if c is not None:
        return LogisticRegression(C=c, max_iter=2000).fit(x, y)
    folds = int(min(3, np.bincount(y).min()))
    model = LogisticRegressionCV(
        Cs=list(C_GRID),
        l1_ratios=(0.0,),
        cv=folds,
        scoring="neg_log_loss",
        max_iter=2000,
        random_state=seed,
        use_legacy_attributes=False,
    )
    return model.fit(x, y)


def _previous_scores(session: Session, version_id: int, item_ids: np.ndarray) -> dict[int, tuple[float, str, list]]:
    rows = session.execute(
        select(
            ModerationScore.item_id, ModerationScore.score, ModerationScore.predicted_label, ModerationScore.categories
        ).where(ModerationScore.model_version_id == version_id, ModerationScore.item_id.in_(item_ids.tolist()))
    )
    return {item: (score, label, cats) for item, score, label, cats in rows}


def _category_models(x, ids, train, test, categories, c: float, seed: int) -> dict[str, Any]:
    """A classifier per category with enough positives among the training items (a not-toxic item has none)."""
    models = {}
    for category in CATEGORIES:
        y = np.array([category in categories[int(i)] for i in ids], dtype=np.int8)
        if y[train].sum() >= MIN_CATEGORY_POSITIVES and y[test].sum() >= 1 and (y[train] == 0).any():
            models[category] = (_fit(x[train], y[train], seed, c), y)
    return models


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
    clock = time.perf_counter()
    embedded = embed_missing(engine, embedder=embedder, progress=lambda d, t: report("embed", d / max(t, 1)))
    timings["embed"] = time.perf_counter() - clock

    clock = time.perf_counter()
    report("fit", 0.0)
    with session_scope(engine) as session:
        ids, toxic, external, adjudicated, newest_label_at = _labelled(session)
        _check(toxic)
        categories = final_categories(session, ids)
        previous = next(iter(moderation_versions(session)), None)
    name = name or f"modclf-{utcnow():%Y%m%d-%H%M%S}"
    store = store_for(embedder, engine)
    x = store.vectors_for(ids)
    positions = np.arange(len(ids))
    train, test = train_test_split(positions, test_size=test_size, stratify=toxic, random_state=seed)
    model = _fit(x[train], toxic[train], seed)
    c = float(model.C_)
    category_models = _category_models(x, ids, train, test, categories, c, seed)
    timings["fit"] = time.perf_counter() - clock

    clock = time.perf_counter()
    report("evaluate", 0.0)
    threshold = DEFAULT_THRESHOLD
    band = previous.band if previous else DEFAULT_BAND
    p_test = model.predict_proba(x[test])[:, 1]
    metrics = {"overall": binary_metrics(toxic[test], p_test, threshold)}
    previous_metrics: dict[str, Any] = {}
    if previous is not None:
        with session_scope(engine) as session:
            old = _previous_scores(session, previous.id, ids[test])
        scored = np.array([int(i) in old for i in ids[test]], dtype=bool)
        if scored.any():
            old_scores = np.array([old[int(i)][0] for i in ids[test][scored]])
            old_labels = np.array([old[int(i)][1] == "toxic" for i in ids[test][scored]])
            previous_metrics["overall"] = binary_metrics(toxic[test][scored], old_scores, labels=old_labels)
    for category, (cat_model, y) in category_models.items():
        metrics[category] = binary_metrics(y[test], cat_model.predict_proba(x[test])[:, 1], CATEGORY_THRESHOLD)
        if previous_metrics:
            named = np.array([category in old[int(i)][2] for i in ids[test][scored]])
            previous_metrics[category] = binary_metrics(y[test][scored], None, labels=named)
    timings["evaluate"] = time.perf_counter() - clock

    artifact = _save(name, model, category_models, embedder, threshold)
    clock = time.perf_counter()
    with session_scope(engine, write=True) as session:
        if session.execute(select(ModelVersion.id).where(ModelVersion.name == name)).first():
            raise ModerationError(f"a model version named {name!r} exists already: choose another name")
        version = ModelVersion(name=name, kind="moderation", notes="", meta={"threshold": threshold, "band": band})
        session.add(version)
        session.flush()
        with _large_cache(session):
            n_scored = _rescore(session, store, version.id, model, category_models, threshold, report)
        timings["score"] = time.perf_counter() - clock
        clock = time.perf_counter()
        report("queue", 0.0)
        sync_queue(session, "moderation")
        waiting = next(q.waiting for q in queue_status(session) if q.queue == "moderation")
        timings["queue"] = time.perf_counter() - clock
        ready_at = utcnow()
        timings["total"] = time.perf_counter() - started
        summary = RetrainSummary(
            version=name,
            previous=previous.name if previous else None,
            embedding_model=embedder.name,
            labels=len(ids),
            external=int(external.sum()),
            adjudicated=int(adjudicated.sum()),
            toxic=int(toxic.sum()),
            train_items=len(train),
            test_items=len(test),
            previous_test_items=int(scored.sum()) if previous_metrics else 0,
            c=c,
            metrics=metrics,
            previous_metrics=previous_metrics,
            embedded=embedded.embedded,
            scored=n_scored,
            queue_waiting=waiting,
            newest_label_at=newest_label_at.isoformat() if newest_label_at else None,
            ready_at=ready_at.isoformat(),
            loop_seconds=(ready_at - newest_label_at).total_seconds() if newest_label_at else None,
            seconds={stage: round(s, 3) for stage, s in timings.items()},
            artifact=str(artifact),
        )
        version.notes = (
            f"Retrained on {len(ids):,} final human labels ({summary.external:,} external); "
            f"embeddings {embedder.name} + logistic regression."
        )
        version.meta = {"threshold": threshold, "band": band, "retrain": summary.as_dict()}
        session.add(version)
        audit.record(
            session,
            actor_id=actor_id,
            action="model_version.retrain",
            entity="model_version",
            entity_id=version.id,
            after={
                "name": name,
                "labels": len(ids),
                "metrics": metrics["overall"],
                "loop_seconds": summary.loop_seconds,
            },
        )
    report("done", 1.0)
    return summary


def _save(name: str, model, category_models: dict, embedder: Embedder, threshold: float):
    import joblib

    folder = get_settings().artifacts_dir / "moderation" / name
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "classifier.joblib"
    categories = {category: m for category, (m, _) in category_models.items()}
    joblib.dump(
        {"classifier": model, "categories": categories, "embedding_model": embedder.name, "threshold": threshold}, path
    )
    return path


def _rescore(
    session: Session, store: EmbeddingStore, version_id: int, model, category_models: dict, threshold: float, report
) -> int:
    """Score every stored item with the new classifier: a matrix product per shard, rows inserted in bulk."""
    weights = np.column_stack([model.coef_[0]] + [m.coef_[0] for m, _ in category_models.values()]).astype(np.float32)
    bias = np.array([model.intercept_[0]] + [m.intercept_[0] for m, _ in category_models.values()], dtype=np.float32)
    names = list(category_models)
    total, scored = store.shard_count(), 0
    write = _score_writer(session, version_id)
    for n, (ids, vectors) in enumerate(store.shards()):
        probabilities = 1.0 / (1.0 + np.exp(-(np.asarray(vectors) @ weights + bias)))
        scores = np.clip(np.round(probabilities[:, 0].astype(np.float64), 6), 0.0, 1.0)
        toxic = scores >= threshold
        named = (probabilities[:, 1:] >= CATEGORY_THRESHOLD) & toxic[:, None]
        categories = [[]] * len(ids)
        for row in np.flatnonzero(named.any(axis=1)):
            categories[row] = [names[j] for j in np.flatnonzero(named[row])]
        write(ids.tolist(), scores.tolist(), toxic.tolist(), categories)
        scored += len(ids)
        report("score", (n + 1) / total)
    return scored


@contextmanager
def _large_cache(session: Session) -> Iterator[None]:
    """On SQLite, a 256 MB page cache for the bulk write: with the default 2 MB the indexes' pages spill to the log
    and are read back (a quarter of the re-score's time at a million items). Put back afterwards."""
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        yield
        return
    before = int(connection.exec_driver_sql("PRAGMA cache_size").scalar())
    connection.exec_driver_sql("PRAGMA cache_size = -262144")
    yield
    connection.exec_driver_sql(f"PRAGMA cache_size = {before}")


SCORE_COLUMNS = "item_id, model_version_id, score, predicted_label, categories, created_at"


def _score_writer(session: Session, version_id: int):
    """A function that inserts a shard's scores through the driver: executemany on SQLite, COPY on PostgreSQL.
    (SQLAlchemy's insert spends more time processing a million rows than the database spends storing them.)"""
    connection = session.connection()
    column = ModerationScore.__table__.c.created_at
    now = utcnow()
    labels = {True: "toxic", False: "not_toxic"}
    if connection.dialect.name == "sqlite":
        stamp = column.type.bind_processor(connection.dialect)(now)
        statement = f"INSERT INTO moderation_score ({SCORE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)"

        def write(ids, scores, toxic, categories) -> None:
            rows = zip(ids, scores, toxic, categories, strict=True)
            connection.exec_driver_sql(
                statement, [(i, version_id, s, labels[t], json.dumps(c) if c else "[]", stamp) for i, s, t, c in rows]
            )

        return write
    driver = connection.connection.driver_connection

    def copy(ids, scores, toxic, categories) -> None:
        with driver.cursor() as cursor, cursor.copy(f"COPY moderation_score ({SCORE_COLUMNS}) FROM STDIN") as out:
            for i, s, t, c in zip(ids, scores, toxic, categories, strict=True):
                out.write_row((i, version_id, s, labels[t], json.dumps(c) if c else "[]", now))

    return copy

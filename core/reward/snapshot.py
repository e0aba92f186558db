"""Freeze the usable preference pairs into a dataset snapshot: Parquet files of a Hugging Face `datasets` dataset
under ARTIFACTS_DIR, a SHA-256 hash of their canonical rows, and a DatasetSnapshot row pointing at them.

The split is by prompt (a hash of its external id), so no prompt is in both splits and a prompt keeps its split as
the data grows. The same store gives the same hash; an identical snapshot is reused, not written twice."""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Text, cast, func, select
from sqlmodel import Session

from core import audit
from core.config import get_settings
from core.reward import RewardError
from core.reward.pairs import DIMENSIONS, PairRow, PairSummary, expert_votes, pair_summary, usable_pairs
from core.store.db import session_scope
from core.store.models import Comparison, DatasetSnapshot, Rating, Response

KIND = "reward-pairs"
FORMAT = 2  # bump when the rows' columns or their meaning change: the hash changes with it (2: conversations)
SPLITS = ("train", "eval", "expert_votes")  # expert_votes: single app votes on held-out prompts (not resolved pairs)
EVAL_SHARE = 0.2
# What joins a prompt and an answer into the text the reward model reads (TRL concatenates prompt + completion).
SEPARATOR = "\n\n"
# TRL's conversational preference format: prompt, chosen and rejected are lists of {"role", "content"} messages.
MESSAGE_COLUMNS = ("prompt", "chosen", "rejected")
TEXT_COLUMNS = (
    "chosen_text",  # the answers as plain text, for the baselines
    "rejected_text",
    "prompt_id",
    "chosen_id",
    "rejected_id",
    "topic",
    "source",
    "chosen_model",
    "rejected_model",
)
COUNT_COLUMNS = ("votes", "winner_votes")
# --spans: each answer's error spans, from every rating and comparison of it (code points into chosen_text /
# rejected_text)
SPAN_COLUMNS = ("chosen_spans", "rejected_spans")
SPAN_FIELDS = (("start", "int32"), ("end", "int32"), ("label", "string"), ("severity", "string"), ("note", "string"))


def split_of(prompt_external_id: str, eval_share: float = EVAL_SHARE) -> str:
    """ "eval" for about `eval_share` of prompts, chosen by a hash of the id: deterministic, independent of the rest."""
    fraction = int(hashlib.sha256(prompt_external_id.encode()).hexdigest()[:15], 16) / 16**15
    return "eval" if fraction < eval_share else "train"


def conversation(turns: list[dict[str, str]], prompt: str) -> list[dict[str, str]]:
    """A prompt with the turns before it as chat messages, the question last."""
    return [{"role": t["role"], "content": t["text"]} for t in turns] + [{"role": "user", "content": prompt}]


def _row(pair: PairRow) -> dict[str, Any]:
    """A dataset row: TRL's prompt / chosen / rejected (conversational format, explicit prompt), then what metrics
    need."""
    row = asdict(pair)
    row["prompt"] = conversation(row.pop("turns") or [], pair.prompt)
    row["chosen"], row["rejected"] = ([{"role": "assistant", "content": text}] for text in (pair.chosen, pair.rejected))
    row["chosen_text"], row["rejected_text"] = pair.chosen, pair.rejected
    return row


def _sorted(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: (r["prompt_id"], r["chosen_id"], r["rejected_id"], r["source"], r["votes"]))


def content_hash(rows: dict[str, list[dict[str, Any]]], options: dict[str, Any]) -> str:
    """SHA-256 of the canonical rows: one JSON object a line (sorted keys), split by split, after the options."""
    digest = hashlib.sha256(json.dumps({"kind": KIND, "format": FORMAT, **options}, sort_keys=True).encode())
    for split in SPLITS:
        for row in rows[split]:
            digest.update(f"{split}\t{json.dumps(row, sort_keys=True, ensure_ascii=False)}\n".encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class SnapshotResult:
    id: int
    content_hash: str
    path: str
    counts: dict[str, int]  # rows per split
    reused: bool
    summary: PairSummary

    def line(self) -> str:
        state = "reused (identical to the stored one)" if self.reused else "created"
        return (
            f"snapshot {self.id} {state}: {self.counts['train']:,} train / {self.counts['eval']:,} eval pairs "
            f"({self.counts['expert_votes']:,} held-out expert votes); left out: {self.summary.outcomes['tie']:,} "
            f"ties, {self.summary.outcomes['both_bad']:,} both bad, {self.summary.outcomes['split']:,} split\n"
            f"  hash   {self.content_hash}\n  folder {self.path}"
        )


def collect_rows(
    session: Session,
    *,
    with_ratings: bool,
    eval_share: float,
    dimension: str | None = None,
    with_spans: bool = False,
) -> dict[str, list[dict[str, Any]]]:
    """The snapshot's rows per split, in canonical order (pairs chosen by one rubric `dimension` if given); with_spans:
    each answer's error spans beside it."""
    rows: dict[str, list[dict[str, Any]]] = {split: [] for split in SPLITS}
    for pair in usable_pairs(session, with_ratings=with_ratings, dimension=dimension):
        rows[split_of(pair.prompt_id, eval_share)].append(_row(pair))
    votes = expert_votes(session, dimension)
    rows["expert_votes"] = [_row(v) for v in votes if split_of(v.prompt_id, eval_share) == "eval"]
    if with_spans:
        spans = answer_spans(session)
        for row in (row for split_rows in rows.values() for row in split_rows):
            row["chosen_spans"], row["rejected_spans"] = (
                spans.get(row["chosen_id"], []),
                spans.get(row["rejected_id"], []),
            )
    return {split: _sorted(split_rows) for split, split_rows in rows.items()}


def answer_spans(session: Session) -> dict[str, list[dict[str, Any]]]:
    """Answer (external id) -> the error spans of every rating and comparison of it, in order of the text, each once."""
    marked = list(
        session.execute(
            select(Response.external_id, Rating.spans)
            .join(Response, Response.id == Rating.response_id)
            .where(func.json_array_length(Rating.spans) > 0)
        )
    )
    for side in ("a", "b"):
        answer = Comparison.response_a_id if side == "a" else Comparison.response_b_id
        compared = select(Response.external_id, Comparison.spans).join(Response, Response.id == answer)
        marked += [
            (name, spans[side])
            for name, spans in session.execute(compared.where(cast(Comparison.spans, Text) != "{}"))
            if spans.get(side)
        ]
    found: dict[str, set[tuple]] = {}
    for answer, spans in marked:
        found.setdefault(answer, set()).update(
            (s["start"], s["end"], s["label"], s["severity"], s.get("note") or "") for s in spans
        )
    names = [name for name, _ in SPAN_FIELDS]
    return {answer: [dict(zip(names, span, strict=True)) for span in sorted(spans)] for answer, spans in found.items()}


def export_snapshot(
    engine: Engine,
    *,
    out: str | Path | None = None,
    with_ratings: bool = False,
    eval_share: float = EVAL_SHARE,
    actor_id: int | None = None,
    dimension: str | None = None,
    with_spans: bool = False,
) -> SnapshotResult:
    """Snapshot the usable pairs, by the overall choice or by the preferences on one rubric `dimension` (recorded in
    the snapshot's options and filters); refused (nothing written) when a split would be empty. with_spans adds each
    answer's error spans (`chosen_spans`, `rejected_spans`); without it, the rows and the hash are as before."""
    if not 0 < eval_share < 1:
        raise RewardError(f"the evaluation share must be between 0 and 1, not {eval_share}")
    if dimension is not None and dimension not in DIMENSIONS:
        raise RewardError(f"no rubric dimension {dimension!r}: choose {', '.join(DIMENSIONS)}")
    options: dict[str, Any] = {"with_ratings": with_ratings, "eval_share": eval_share}
    if dimension:  # only then: an overall snapshot keeps the hash it had before dimensions existed
        options["dimension"] = dimension
    if with_spans:
        options["with_spans"] = True
    with session_scope(engine) as session:
        summary = pair_summary(session, dimension)
        rows = collect_rows(
            session, with_ratings=with_ratings, eval_share=eval_share, dimension=dimension, with_spans=with_spans
        )
    counts = {split: len(split_rows) for split, split_rows in rows.items()}
    _refuse_empty(counts, summary, with_ratings, dimension)
    digest = content_hash(rows, options)
    with session_scope(engine) as session:
        existing = _stored(session, digest)
    if existing is not None and _complete(Path(existing.path)):
        return SnapshotResult(existing.id, digest, existing.path, counts, True, summary)
    folder = Path(existing.path) if existing else Path(out or get_settings().artifacts_dir / "snapshots" / digest[:16])
    if existing is None and out and folder.exists() and any(folder.iterdir()):
        raise RewardError(f"{folder} exists and is not empty: give --out a new or empty folder")
    card = {"kind": KIND, "format": FORMAT, "content_hash": digest, "options": options, "rows": counts}
    _write(folder, rows, card, with_spans=with_spans)
    if existing is not None:  # its files had gone: written again, same content
        return SnapshotResult(existing.id, digest, existing.path, counts, True, summary)
    filters = options | {"rows": counts, "left_out": {k: v for k, v in summary.outcomes.items() if k != "usable"}}
    with session_scope(engine, write=True) as session:
        pairs = counts["train"] + counts["eval"]
        snapshot = DatasetSnapshot(kind=KIND, content_hash=digest, row_count=pairs, filters=filters, path=str(folder))
        session.add(snapshot)
        session.flush()
        audit.record(
            session,
            actor_id=actor_id,
            action="dataset_snapshot.create",
            entity="dataset_snapshot",
            entity_id=snapshot.id,
            after={"content_hash": digest, "path": str(folder), "rows": counts},
        )
        snapshot_id = snapshot.id
    return SnapshotResult(snapshot_id, digest, str(folder), counts, False, summary)


def _refuse_empty(counts: dict[str, int], summary: PairSummary, with_ratings: bool, dimension: str | None) -> None:
    pairs = counts["train"] + counts["eval"]
    if not pairs:
        left = f" ({summary.left_out:,} compared pairs left out as ties, both bad or split)" if summary.left_out else ""
        hint = "" if with_ratings else ", or add pairs from ratings with --with-ratings"
        if dimension:
            left += f" by their {dimension} preferences"
            hint += "; turn on per-dimension preferences for the comparison queue to collect them"
        raise RewardError(f"no usable preference pairs in the store{left}: import or collect comparisons{hint}")
    for split in ("train", "eval"):
        if not counts[split]:
            raise RewardError(
                f"all {pairs:,} usable pairs fall in the other split, none in {split!r} (the split is by prompt): "
                "pairs on more prompts are needed"
            )


def _stored(session: Session, digest: str) -> DatasetSnapshot | None:
    statement = select(DatasetSnapshot).where(DatasetSnapshot.kind == KIND, DatasetSnapshot.content_hash == digest)
    return session.execute(statement.order_by(DatasetSnapshot.id).limit(1)).scalar_one_or_none()


def _complete(folder: Path) -> bool:
    return all((folder / f"{split}.parquet").is_file() for split in SPLITS) and (folder / "snapshot.json").is_file()


def _write(folder: Path, rows: dict[str, list[dict[str, Any]]], card: dict[str, Any], *, with_spans: bool) -> None:
    """Write into a temporary folder beside the target, then move it in place (no half-written snapshot)."""
    import pyarrow.parquet as pq
    from datasets import Dataset, Features, Value

    message = [{"role": Value("string"), "content": Value("string")}]
    span = [{name: Value(kind) for name, kind in SPAN_FIELDS}]
    features = Features(
        {c: message for c in MESSAGE_COLUMNS}
        | {c: Value("string") for c in TEXT_COLUMNS}
        | {c: Value("int32") for c in COUNT_COLUMNS}
        | ({c: span for c in SPAN_COLUMNS} if with_spans else {})
    )
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    staging.chmod(0o755)
    try:
        for split, split_rows in rows.items():
            columns = {c: [r[c] for r in split_rows] for c in features}
            # the Arrow table carries the datasets features in its schema metadata, as Dataset.to_parquet writes it
            pq.write_table(Dataset.from_dict(columns, features=features).data.table, staging / f"{split}.parquet")
        (staging / "snapshot.json").write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
        if folder.exists():
            shutil.rmtree(folder)
        staging.rename(folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def get_snapshot(session: Session, snapshot_id: int) -> DatasetSnapshot:
    snapshot = session.get(DatasetSnapshot, snapshot_id)
    if snapshot is None or snapshot.kind != KIND:
        raise RewardError(
            f"no reward-pairs snapshot with id {snapshot_id}: make one with `python -m core reward export` "
            "(it prints the new snapshot's id)"
        )
    return snapshot


def load_splits(snapshot: DatasetSnapshot) -> dict[str, Any]:
    """The snapshot's splits as in-memory `datasets.Dataset`s (no cache files written)."""
    import pyarrow.parquet as pq
    from datasets import Dataset

    folder = Path(snapshot.path)
    if not _complete(folder):
        raise RewardError(
            f"snapshot {snapshot.id}'s files are missing from {folder}: run `python -m core reward export` again "
            "(an identical snapshot's files are written again)"
        )
    written = json.loads((folder / "snapshot.json").read_text(encoding="utf-8")).get("format")
    if written != FORMAT:
        raise RewardError(
            f"snapshot {snapshot.id} is in an older format ({written}; this version reads {FORMAT}, conversations): "
            "make a new one with `python -m core reward export`"
        )
    return {split: Dataset(pq.read_table(folder / f"{split}.parquet")) for split in SPLITS}

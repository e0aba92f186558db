"""Importing files: every row validated, a bad file refused whole with its line numbers, nothing half-written,
and the same file imported twice adds nothing. Pages and the CLI both call `import_file`."""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Engine

from core import audit
from core.ingest import bulk, labelstudio, schemas, write
from core.ingest.context import Context, Numbered, WriteProblem
from core.ingest.experiments import experiment_csv, write_experiment_events
from core.ingest.pii import TOKENS, mask_row
from core.ingest.read import Problem, Progress, parse_json_cell, read_csv, read_jsonl
from core.review.sync import sync_all
from core.store.db import refresh_statistics, session_scope
from core.store.models import (
    Comparison,
    ExperimentEvent,
    ImportRun,
    ModerationLabel,
    ModerationScore,
    Rating,
    Response,
    utcnow,
)

BATCH_ROWS = 5000
SHOWN_PROBLEMS = 20


@dataclass(frozen=True)
class ImporterSpec:
    model: type[BaseModel]
    write: Callable[[Context, Numbered], int]
    counted: Any  # the table whose rows are this kind's records (added = its growth)
    unit: str
    description: str
    suffixes: tuple[str, ...] = (".jsonl",)
    csv_shape: Callable[[dict[str, str]], dict[str, Any]] = dict
    feeds_queues: bool = False  # new answers, items or judgments: bring the review queues in line afterwards
    # a reader of its own (path, problems, progress) -> (line or index, row), for a file that is not JSONL or CSV
    read: Callable[[Path, Any, Progress | None], Iterator[tuple[int, BaseModel]]] | None = None
    bulk_tables: tuple[str, ...] = ()  # tables whose secondary indexes a large import defers (core.ingest.bulk)


def _moderation_csv(record: dict[str, str]) -> dict[str, Any]:
    """CSV columns as in the JSONL format; `categories` holds a JSON list or names split by ';', and `meta.*`
    columns fold into `meta`."""
    shaped: dict[str, Any] = {k: v for k, v in record.items() if not k.startswith("meta.")}
    cats = shaped.get("categories", "").strip()
    if cats.startswith("["):
        shaped["categories"] = parse_json_cell(cats, [])
    else:
        shaped["categories"] = [c.strip() for c in cats.split(";") if c.strip()]
    shaped["meta"] = {k[5:]: v for k, v in record.items() if k.startswith("meta.") and v != ""}
    if shaped.get("created_at") == "":
        shaped.pop("created_at")
    return shaped


KINDS: dict[str, ImporterSpec] = {
    "conversations": ImporterSpec(
        schemas.ConversationRow,
        write.write_conversations,
        Response,
        "responses",
        'JSONL: {"prompt_id", "prompt", "topic"?, "responses": [{"response_id", "model", "text"}]}',
        feeds_queues=True,
    ),
    "moderation": ImporterSpec(
        schemas.ModerationRow,
        write.write_moderation,
        ModerationScore,
        "scored items",
        'JSONL or CSV: {"item_id", "text", "model", "score": 0..1, "predicted_label": "toxic"|"not_toxic", '
        '"categories"?: [..], "meta"?: {..}}; in CSV, meta.* columns fold into meta',
        (".jsonl", ".csv"),
        _moderation_csv,
        feeds_queues=True,
        bulk_tables=("moderation_item", "moderation_score"),
    ),
    "hh-rlhf": ImporterSpec(
        schemas.HHRow,
        write.write_hh_rlhf,
        Comparison,
        "comparisons",
        'Anthropic HH-RLHF JSONL: {"chosen": "\\n\\nHuman: ...\\n\\nAssistant: ...", "rejected": "..."}',
    ),
    "jigsaw": ImporterSpec(
        schemas.JigsawRow,
        write.write_jigsaw,
        ModerationLabel,
        "labelled items",
        "Jigsaw toxic comments CSV: id,comment_text,toxic,severe_toxic,obscene,threat,insult,identity_hate (0/1)",
        (".csv",),
        feeds_queues=True,
    ),
    "ratings": ImporterSpec(
        schemas.RatingRow,
        write.write_ratings,
        Rating,
        "ratings",
        'JSONL: {"prompt_id", "prompt", "model", "response", "reviewer", "helpfulness", "harmlessness", '
        '"accuracy": 1..5, "flags"?: [..], "rationale"?, "spans"?: [{"start", "end", "label", "severity", "note"?}]}',
        feeds_queues=True,
    ),
    "comparisons": ImporterSpec(
        schemas.ComparisonRow,
        write.write_comparisons,
        Comparison,
        "comparisons",
        'JSONL: {"prompt_id", "prompt", "model_a", "response_a", "model_b", "response_b", '
        '"choice": "a"|"b"|"tie"|"both_bad", "reviewer", "strength"?, "rationale"?, '
        '"dimensions"?: {"helpfulness"|"harmlessness"|"accuracy": "a"|"b"|"tie"}}',
        feeds_queues=True,
    ),
    "labels": ImporterSpec(
        schemas.LabelRow,
        write.write_labels,
        ModerationLabel,
        "labels",
        'JSONL: {"item_id", "text", "annotator", "label": "toxic"|"not_toxic", "categories"?: [..], "note"?}',
        feeds_queues=True,
    ),
    "labelstudio": ImporterSpec(
        labelstudio.TaskIn,
        labelstudio.write_labels,
        ModerationLabel,
        "labels",
        'Label Studio JSON export: [{"id", "data": {"item_id", "text"}, "annotations": [{"completed_by", '
        '"result": [{"from_name", "to_name", "type", "value"}]}]}], labelled with data/labelstudio/moderation.xml '
        "(labels) or rating.xml (ratings with spans)",
        (".json",),
        feeds_queues=True,
        read=labelstudio.read_export,
    ),
    "experiment-events": ImporterSpec(
        schemas.ExperimentEventRow,
        write_experiment_events,
        ExperimentEvent,
        "outcomes",
        'JSONL or CSV: {"experiment", "unit_id", "variant", "at", "<metric>": 0|1 ...}; in CSV one column per '
        "metric (an empty cell: not measured for that unit)",
        (".jsonl", ".csv"),
        experiment_csv,
    ),
}


LABELSTUDIO_RATINGS = ImporterSpec(  # `import labelstudio` of a rating project's export
    schemas.RatingRow,
    labelstudio.write_ratings,
    Rating,
    "ratings",
    "Label Studio JSON export of a rating project (data/labelstudio/rating.xml)",
    (".json",),
    feeds_queues=True,
    read=labelstudio.read_rating_export,
)


@dataclass(frozen=True)
class ImportSummary:
    kind: str
    file_name: str
    rows_read: int
    unit: str
    records: int
    added: int
    import_run_id: int
    updated: int = 0  # records that were present and changed (only kinds whose records can change)
    masked: dict[str, int] | None = None  # personal data masked per token ([EMAIL]...); None: masking was off

    @property
    def present(self) -> int:
        return self.records - self.added - self.updated

    def line(self) -> str:
        line = (
            f"{self.file_name}: {self.rows_read:,} rows read, {self.records:,} {self.unit}: "
            f"{self.added:,} added, {self.present:,} already present"
        )
        line += f", {self.updated:,} updated" if self.updated else ""
        if self.masked is not None:
            line += "; personal data masked: " + ", ".join(f"{n:,} [{token}]" for token, n in self.masked.items())
        return line


@dataclass
class ProblemLog:
    """Keeps the first problems to show and counts the rest, so a wholly bad file costs no memory."""

    shown: list[Problem] = field(default_factory=list)
    total: int = 0
    lines: set[int] = field(default_factory=set)

    def append(self, problem: Problem) -> None:
        self.total += 1
        self.lines.add(problem.line)
        if len(self.shown) < SHOWN_PROBLEMS:
            self.shown.append(problem)

    def extend(self, problems: list[Problem]) -> None:
        for problem in problems:
            self.append(problem)

    def __bool__(self) -> bool:
        return self.total > 0


class ImportRefused(Exception):
    """The file was refused whole; nothing was written. `lines()` says where and why."""

    def __init__(self, file_name: str, problems: ProblemLog) -> None:
        self.file_name, self.problems = file_name, problems
        super().__init__("\n".join(self.lines()))

    def lines(self) -> list[str]:
        shown = [str(p) for p in self.problems.shown]
        more = self.problems.total - len(shown)
        return shown + ([f"... and {more:,} more problem(s)"] if more else [])


def import_file(
    path: str | Path,
    kind: str,
    *,
    engine: Engine | None = None,
    actor_id: int | None = None,
    file_name: str | None = None,
    progress: Progress | None = None,
    mask_pii: bool = False,
) -> ImportSummary:
    """Import one file of a known kind in one transaction; raise ImportRefused (writing nothing) if any row is bad.

    With `mask_pii`, e-mail addresses, phone numbers and tax ids in the texts are masked before they are written
    (core.ingest.pii), and the import's audit event counts them."""
    if kind not in KINDS:
        raise ValueError(f"unknown import kind {kind!r}; choose one of: {', '.join(KINDS)}")
    spec, path = KINDS[kind], Path(path)
    if kind == "labelstudio" and path.is_file() and labelstudio.rates_answers(path):
        spec = LABELSTUDIO_RATINGS
    file_name = file_name or path.name
    problems = ProblemLog()
    suffix = Path(file_name).suffix.lower()
    if suffix not in spec.suffixes and not (suffix == ".json" and ".jsonl" in spec.suffixes):
        problems.append(Problem(0, None, f"a {kind} file must end in {' or '.join(spec.suffixes)}"))
    elif not path.is_file():
        problems.append(Problem(0, None, f"no such file: {path}"))
    elif path.stat().st_size == 0:
        problems.append(Problem(0, None, "the file is empty"))
    if problems:
        _refuse(engine, kind, file_name, problems, 0, actor_id)
    if spec.read:
        rows = spec.read(path, problems, progress)
    elif suffix == ".csv":
        rows = read_csv(path, spec.model, problems, progress, spec.csv_shape)
    else:
        rows = read_jsonl(path, spec.model, problems, progress)
    masked: Counter[str] | None = Counter({token: 0 for token in TOKENS}) if mask_pii else None
    if masked is not None:
        rows = ((line, mask_row(row, masked)) for line, row in rows)
    started, valid = utcnow(), 0
    try:
        with session_scope(engine, write=True) as session, _collector_paused():
            ctx = Context(session)
            before, records = ctx.count(spec.counted), 0
            with ExitStack() as deferred:
                for number, batch in enumerate(_batches(rows)):
                    if number == 1 and spec.bulk_tables and not problems:
                        deferred.enter_context(_indexes_deferred(ctx, spec, path, valid, before))
                    valid += len(batch)
                    if not problems:
                        try:
                            records += spec.write(ctx, batch)
                        except WriteProblem as error:
                            problems.append(error.problem)
                if not problems and valid == 0:
                    problems.append(Problem(0, None, "the file holds no rows"))
                if problems:
                    raise _Rollback
            added = ctx.count(spec.counted) - before
            if spec.feeds_queues and (added or ctx.updated):
                sync_all(session)
            run = ImportRun(
                kind=kind,
                file_name=file_name,
                status="done",
                rows_read=valid,
                rows_added=added,
                rows_present=records - added - ctx.updated,
                actor_id=actor_id,
                started_at=started,
                finished_at=utcnow(),
            )
            session.add(run)
            session.flush()
            audit.record(
                session,
                actor_id=actor_id,
                action="import",
                entity="import_run",
                entity_id=run.id,
                after={"kind": kind, "file": file_name, "rows": valid, "added": added, "mask_pii": mask_pii}
                | ({"pii_masked": dict(masked)} if masked is not None else {}),
            )
    except _Rollback:
        _refuse(engine, kind, file_name, problems, valid, actor_id)
    refresh_statistics(engine)
    return ImportSummary(
        kind, file_name, valid, spec.unit, records, added, run.id, ctx.updated, None if masked is None else dict(masked)
    )


class _Rollback(Exception):
    pass


def _indexes_deferred(
    ctx: Context, spec: ImporterSpec, path: Path, first_rows: int, before: int
) -> AbstractContextManager[None]:
    """After the first batch: its share of new rows tells how many of the file's rows will be new."""
    new_share = (ctx.count(spec.counted) - before) / first_rows
    return bulk.indexes_deferred(ctx.conn, spec.bulk_tables, int(bulk.estimated_rows(path) * new_share))


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a file is written.

    Each batch keeps tens of thousands of short-lived objects alive just long enough to reach the oldest
    generation, whose full collections then took about a third of an import's time. Reference counting still frees
    them; the collector resumes (and catches up) when the import ends. Process-wide, so another thread's import
    ending first resumes it early: that costs only speed."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _batches(rows: Iterator[tuple[int, BaseModel]]) -> Iterator[list[tuple[int, BaseModel]]]:
    while batch := list(islice(rows, BATCH_ROWS)):
        yield batch


def _refuse(engine: Engine | None, kind: str, file_name: str, problems: ProblemLog, valid: int, actor_id) -> None:
    """Record the refusal (for the data-quality KPI) in a transaction of its own, then raise."""
    refused = len(problems.lines - {0})
    with session_scope(engine, write=True) as session:
        session.add(
            ImportRun(
                kind=kind,
                file_name=file_name,
                status="refused",
                rows_read=valid + refused,
                rows_refused=refused,
                errors=[str(p) for p in problems.shown],
                actor_id=actor_id,
                finished_at=utcnow(),
            )
        )
    raise ImportRefused(file_name, problems)

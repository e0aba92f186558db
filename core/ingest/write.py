"""Batch writers: validated rows in, rows in the store out. Bulk Core inserts that skip what is already present,
so a file imported twice adds nothing, at tens of thousands of rows a second."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from functools import cache, lru_cache
from typing import Any

from pydantic_core import to_json
from sqlalchemy import JSON, Dialect, Insert, Select, Table, bindparam, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session
from sqlmodel.sql.sqltypes import UTCDateTime

from core.ingest.read import Problem
from core.ingest.schemas import JigsawRow
from core.models import (
    Comparison,
    ModelVersion,
    ModerationItem,
    ModerationLabel,
    ModerationScore,
    Prompt,
    Rating,
    Response,
    User,
    utcnow,
)
from core.prepared import prepare

Numbered = Sequence[tuple[int, Any]]  # (line, row)
HH_VERSION = "hh-rlhf"
IDS_CHUNK = 256  # values per id look-up: psycopg caches the parsing of a statement up to 4 kB long
# Jigsaw's sub-labels that name one of our categories; any 1 among the six makes the item toxic.
JIGSAW_CATEGORIES = {"obscene": "sexual", "threat": "violence", "insult": "harassment", "identity_hate": "hate"}


class WriteProblem(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


def digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:24]


def table(model: Any) -> Table:
    return model.__table__


@cache
def _insert_statement(dialect_name: str, target: Table, columns: tuple[str, ...]) -> Insert:
    """Insert `columns`, skipping rows whose unique keys are present (built once; core.prepared compiles it once)."""
    insert = sqlite_insert if dialect_name == "sqlite" else pg_insert
    return insert(target).values({name: bindparam(name) for name in columns}).on_conflict_do_nothing()


@cache
def _processors(dialect: Dialect, target: Table, columns: tuple[str, ...]) -> tuple[Callable | None, ...]:
    """Each column's bind processing (what SQLAlchemy does to a value before the driver sees it), or None."""
    processors = []
    for name in columns:
        column_type = target.c[name].type
        if isinstance(column_type, JSON):
            processors.append(json_text)
        elif isinstance(column_type, UTCDateTime):
            processors.append(_when(dialect))
        else:
            processors.append(column_type.dialect_impl(dialect).bind_processor(dialect))
    return tuple(processors)


def json_text(value: Any) -> str | None:
    """A JSON column's value as text (None stays NULL). pydantic's serializer: five times json.dumps's speed."""
    return None if value is None else to_json(value).decode()


@cache
def _when(dialect: Dialect) -> Callable[[Any], Any]:
    """A timestamp as the driver takes it; memoised, as most rows of a file share the import's timestamp."""
    return lru_cache(maxsize=256)(UTCDateTime().dialect_impl(dialect).bind_processor(dialect))


@cache
def _ids_select(target: Table, column: str) -> Select:
    """`SELECT column, id ... WHERE column IN (IDS_CHUNK parameters)`, its parameters v0, v1, ...: SQLAlchemy's
    handling of a list parameter cost about 2 microseconds a value, more than the query itself."""
    col = target.c[column]
    return select(col, target.c.id).where(col.in_([bindparam(f"v{i}") for i in range(IDS_CHUNK)]))


class Context:
    """What a batch writer needs: the transaction, one timestamp, and the ids it has already resolved.

    Big files go through `insert_tuples` with values ready for the driver (`json_text`, `when`): SQLAlchemy's
    per-row parameter handling cost more than the inserts themselves."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.conn = session.connection()
        self.now = utcnow()
        self.when = _when(self.conn.dialect)
        self.updated = 0  # records changed in place (an importer whose records can change counts them here)
        self._versions: dict[str, tuple[int, str]] = {}
        self._users: dict[str, int] = {}

    def insert_ignore(self, model: Any, rows: list[dict[str, Any]]) -> None:
        """Insert the rows (all with the same keys), skipping those whose unique keys are present already."""
        if not rows:
            return
        columns = tuple(rows[0])
        processors = _processors(self.conn.dialect, table(model), columns)
        ready = [tuple([v if p is None else p(v) for v, p in zip(r.values(), processors, strict=True)]) for r in rows]
        self.insert_tuples(model, columns, ready)

    def insert_tuples(self, model: Any, columns: tuple[str, ...], rows: list[tuple]) -> None:
        """Insert rows of driver-ready values in the order of `columns`, skipping those present already."""
        if not rows:
            return
        dialect = self.conn.dialect
        prepared = prepare(_insert_statement(dialect.name, table(model), columns), dialect)
        if not prepared.positional:  # a driver that takes named parameters (psycopg)
            rows = [dict(zip(columns, row, strict=True)) for row in rows]
        elif prepared.names != columns:
            rows = [tuple(row[columns.index(name)] for name in prepared.names) for row in rows]
        self.conn.exec_driver_sql(prepared.sql, rows)

    def ids_by(self, model: Any, column: str, values: Iterable[str]) -> dict[str, int]:
        """Value -> id of the rows whose `column` holds one of `values`."""
        prepared = prepare(_ids_select(table(model), column), self.conn.dialect)
        values, found = list(set(values)), {}
        for start in range(0, len(values), IDS_CHUNK):
            chunk = values[start : start + IDS_CHUNK]
            chunk += [None] * (IDS_CHUNK - len(chunk))  # `IN (..., NULL)` matches nothing more
            params = tuple(chunk) if prepared.positional else dict(zip(prepared.names, chunk, strict=True))
            found.update(self.conn.exec_driver_sql(prepared.sql, params).all())
        return found

    def version_ids(self, numbered: Iterable[tuple[int, str]], kind: str, notes: str = "") -> dict[str, int]:
        """Model version name -> id, creating versions first seen; a name of another kind is a problem."""
        first = {name: line for line, name in reversed(list(numbered))}  # each name's first line
        names = sorted(first, key=first.__getitem__)  # in the file's order: new versions get ids in that order
        wanted = [name for name in names if name not in self._versions]
        if wanted:
            self.insert_ignore(
                ModelVersion,
                [{"name": n, "kind": kind, "notes": notes, "meta": {}, "created_at": self.now} for n in wanted],
            )
            t = table(ModelVersion)
            found = self.conn.execute(select(t.c.name, t.c.id, t.c.kind).where(t.c.name.in_(wanted)))
            self._versions.update({name: (id_, k) for name, id_, k in found})
        ids = {}
        for name in names:
            id_, found_kind = self._versions[name]
            if found_kind != kind:
                raise WriteProblem(
                    Problem(first[name], "model", f"{name!r} is a {found_kind} model, not a {kind} model")
                )
            ids[name] = id_
        return ids

    def user_ids(self, usernames: Iterable[str], role: str) -> dict[str, int]:
        """Username -> id; a reviewer not yet a user becomes an inactive user of the fitting role."""
        wanted = set(usernames) - set(self._users)
        if wanted:
            self.insert_ignore(
                User,
                [
                    {
                        "username": u,
                        "display_name": u,
                        "role": role,
                        "active": False,
                        "failed_logins": 0,
                        "created_at": self.now,
                    }
                    for u in wanted
                ],
            )
            self._users.update(self.ids_by(User, "username", wanted))
        return self._users

    def prompt_ids(self, prompts: Iterable[tuple[str, str, str | None, Any]], source: str) -> dict[str, int]:
        """(external id, text, topic, created_at) -> id by external id; the first text seen for an id is kept."""
        rows: dict[str, dict[str, Any]] = {}
        for ext, text, topic, at in prompts:
            rows.setdefault(
                ext,
                {
                    "external_id": ext,
                    "source": source,
                    "text": text,
                    "topic": topic,
                    "meta": {},
                    "created_at": at or self.now,
                },
            )
        self.insert_ignore(Prompt, list(rows.values()))
        return self.ids_by(Prompt, "external_id", rows)

    def response_ids(self, answers: list[tuple[int, str, str]], created_at: Any = None) -> dict[tuple, int]:
        """(prompt id, version id, text) -> response id: an answer already in the store is reused, whatever its
        external id; a new one gets an id derived from its content."""
        keys = set(answers)
        t = table(Response)
        prompt_ids = {p for p, _, _ in keys}
        found = {
            (p, v, text): id_
            for id_, p, v, text in self.conn.execute(
                select(t.c.id, t.c.prompt_id, t.c.model_version_id, t.c.text).where(t.c.prompt_id.in_(prompt_ids))
            )
        }
        new = {k: digest("response", str(k[0]), str(k[1]), k[2]) for k in keys if k not in found}
        self.insert_ignore(
            Response,
            [
                {
                    "external_id": ext,
                    "prompt_id": p,
                    "model_version_id": v,
                    "text": text,
                    "meta": {},
                    "created_at": created_at or self.now,
                }
                for (p, v, text), ext in new.items()
            ],
        )
        by_ext = self.ids_by(Response, "external_id", new.values())
        found.update({k: by_ext[ext] for k, ext in new.items()})
        return found

    def count(self, model: Any) -> int:
        return self.conn.execute(select(func.count()).select_from(table(model))).scalar_one()


def write_conversations(ctx: Context, batch: Numbered) -> int:
    versions = ctx.version_ids(((line, r.model) for line, row in batch for r in row.responses), "chatbot")
    prompts = ctx.prompt_ids(((row.prompt_id, row.prompt, row.topic, row.created_at) for _, row in batch), "import")
    ctx.insert_ignore(
        Response,
        [
            {
                "external_id": r.response_id,
                "prompt_id": prompts[row.prompt_id],
                "model_version_id": versions[r.model],
                "text": r.text,
                "meta": {},
                "created_at": row.created_at or ctx.now,
            }
            for _, row in batch
            for r in row.responses
        ],
    )
    return sum(len(row.responses) for _, row in batch)


SCORE_COLUMNS = ("item_id", "model_version_id", "score", "predicted_label", "categories", "created_at")
ITEM_COLUMNS = ("external_id", "source", "text", "meta", "created_at")


def write_moderation(ctx: Context, batch: Numbered) -> int:
    versions = ctx.version_ids(((line, row.model) for line, row in batch), "moderation")
    items = moderation_item_ids(ctx, ((row.item_id, row.text, row.meta, row.created_at) for _, row in batch), "import")
    when, now = ctx.when, ctx.when(ctx.now)
    scores = [
        (
            items[row.item_id],
            versions[row.model],
            row.score,
            row.predicted_label,
            json_text(row.categories) if row.categories else "[]",  # most rows: no categories, no meta
            when(row.created_at) if row.created_at else now,
        )
        for _, row in batch
    ]
    ctx.insert_tuples(ModerationScore, SCORE_COLUMNS, scores)
    return len(batch)


def moderation_item_ids(ctx: Context, items: Iterable[tuple[str, str, dict, Any]], source: str) -> dict[str, int]:
    rows: dict[str, tuple] = {}
    when, now = ctx.when, ctx.when(ctx.now)
    for ext, text, meta, at in items:  # the first row of an id wins, as it does across files
        if ext not in rows:
            rows[ext] = (ext, source, text, json_text(meta) if meta else "{}", when(at) if at else now)
    ctx.insert_tuples(ModerationItem, ITEM_COLUMNS, list(rows.values()))
    return ctx.ids_by(ModerationItem, "external_id", rows)


def write_hh_rlhf(ctx: Context, batch: Numbered) -> int:
    """Each pair: the shared turns become the prompt, the last Assistant turns two answers, chosen wins."""
    version = ctx.version_ids(
        [(line, HH_VERSION) for line, _ in batch[:1]], "chatbot", notes="Anthropic HH-RLHF: the model is unknown"
    )[HH_VERSION]
    pairs = [(row.split(), row) for _, row in batch]
    pairs = [((prompt, chosen, rejected), row) for (prompt, chosen, rejected), row in pairs if chosen != rejected]
    prompts = ctx.prompt_ids((("hh:" + digest(p), p, None, None) for (p, _, _), _ in pairs), HH_VERSION)
    answers = [(prompts["hh:" + digest(p)], version, text) for (p, c, r), _ in pairs for text in (c, r)]
    responses = ctx.response_ids(answers)
    comparisons = []
    for (p, chosen, rejected), _ in pairs:
        pid = prompts["hh:" + digest(p)]
        a, b = responses[(pid, version, chosen)], responses[(pid, version, rejected)]
        comparisons.append(
            {
                "key": f"hh-rlhf:{a}:{b}",
                "source": HH_VERSION,
                "prompt_id": pid,
                "response_a_id": a,
                "response_b_id": b,
                "version_a_id": version,
                "version_b_id": version,
                "choice": "a",
                "rationale": "",
                "created_at": ctx.now,
            }
        )
    ctx.insert_ignore(Comparison, comparisons)
    return len(batch)


def write_jigsaw(ctx: Context, batch: Numbered) -> int:
    items = moderation_item_ids(
        ctx, ((row.id, row.comment_text, {"jigsaw": _jigsaw_flags(row)}, None) for _, row in batch), "jigsaw"
    )
    labels = []
    for _, row in batch:
        flags = _jigsaw_flags(row)
        labels.append(
            {
                "key": f"jigsaw:{row.id}",
                "source": "jigsaw",
                "item_id": items[row.id],
                "label": "toxic" if any(flags.values()) else "not_toxic",
                "categories": sorted(c for name, c in JIGSAW_CATEGORIES.items() if flags[name]),
                "note": "",
                "created_at": ctx.now,
            }
        )
    ctx.insert_ignore(ModerationLabel, labels)
    return len(batch)


def _jigsaw_flags(row: JigsawRow) -> dict[str, int]:
    names = ("toxic", "severe_toxic", "obscene", "threat", "insult", "identity_hate")
    return {name: getattr(row, name) for name in names}


def _answers(ctx: Context, batch: Numbered, pairs: list[tuple[str, str]]) -> tuple[dict, dict, dict]:
    """Prompt ids, version ids and response ids for rows that carry answers as (model field, text field)."""
    versions = ctx.version_ids(((line, getattr(row, m)) for line, row in batch for m, _ in pairs), "chatbot")
    prompts = ctx.prompt_ids(((row.prompt_id, row.prompt, None, row.created_at) for _, row in batch), "import")
    answers = [
        (prompts[row.prompt_id], versions[getattr(row, m)], getattr(row, t)) for _, row in batch for m, t in pairs
    ]
    return prompts, versions, ctx.response_ids(answers)


def write_ratings(ctx: Context, batch: Numbered) -> int:
    prompts, versions, responses = _answers(ctx, batch, [("model", "response")])
    users = ctx.user_ids((row.reviewer for _, row in batch), "expert")
    rows = []
    for _, row in batch:
        response = responses[(prompts[row.prompt_id], versions[row.model], row.response)]
        rows.append(
            {
                "key": f"ratings:{row.reviewer}:{response}",
                "source": "import",
                "response_id": response,
                "user_id": users[row.reviewer],
                "helpfulness": row.helpfulness,
                "harmlessness": row.harmlessness,
                "accuracy": row.accuracy,
                "flags": row.flags,
                "rationale": row.rationale,
                "created_at": row.created_at or ctx.now,
            }
        )
    ctx.insert_ignore(Rating, rows)
    return len(batch)


def write_comparisons(ctx: Context, batch: Numbered) -> int:
    prompts, versions, responses = _answers(ctx, batch, [("model_a", "response_a"), ("model_b", "response_b")])
    users = ctx.user_ids((row.reviewer for _, row in batch), "expert")
    rows = []
    for line, row in batch:
        pid = prompts[row.prompt_id]
        a = responses[(pid, versions[row.model_a], row.response_a)]
        b = responses[(pid, versions[row.model_b], row.response_b)]
        if a == b:
            raise WriteProblem(Problem(line, "response_b", "is the same answer as response_a"))
        rows.append(
            {
                "key": f"comparisons:{row.reviewer}:{a}:{b}",
                "source": "import",
                "prompt_id": pid,
                "response_a_id": a,
                "response_b_id": b,
                "version_a_id": versions[row.model_a],
                "version_b_id": versions[row.model_b],
                "choice": row.choice,
                "strength": row.strength,
                "rationale": row.rationale,
                "user_id": users[row.reviewer],
                "created_at": row.created_at or ctx.now,
            }
        )
    ctx.insert_ignore(Comparison, rows)
    return len(batch)


def write_labels(ctx: Context, batch: Numbered) -> int:
    items = moderation_item_ids(ctx, ((row.item_id, row.text, {}, row.created_at) for _, row in batch), "import")
    users = ctx.user_ids((row.annotator for _, row in batch), "annotator")
    ctx.insert_ignore(
        ModerationLabel,
        [
            {
                "key": f"labels:{row.annotator}:{items[row.item_id]}",
                "source": "import",
                "item_id": items[row.item_id],
                "user_id": users[row.annotator],
                "label": row.label,
                "categories": row.categories,
                "note": row.note,
                "created_at": row.created_at or ctx.now,
            }
            for _, row in batch
        ],
    )
    return len(batch)

"""What the batch writers share: one import's transaction (`Context`), its id look-ups, and its inserts that skip
what is already present, compiled once (core.store.prepared) and fed tuples the driver takes as they are."""

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
from core.store.models import ModelVersion, Prompt, Response, User, utcnow
from core.store.prepared import prepare

Numbered = Sequence[tuple[int, Any]]  # (line, row)
IDS_CHUNK = 256  # values per id look-up: psycopg caches the parsing of a statement up to 4 kB long


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
    """Insert `columns`, skipping rows whose unique keys are present (built once, compiled once)."""
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

    def prompt_ids(self, prompts: Iterable[tuple[str, str, str | None, Any, list]], source: str) -> dict[str, int]:
        """(external id, text, topic, created_at, earlier turns) -> id by external id; the first text and turns seen
        for an id are kept."""
        rows: dict[str, dict[str, Any]] = {}
        for ext, text, topic, at, turns in prompts:
            rows.setdefault(
                ext,
                {
                    "external_id": ext,
                    "source": source,
                    "text": text,
                    "topic": topic,
                    "turns": turns,
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

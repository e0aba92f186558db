"""Backups of the whole store, and their restore, on SQLite and PostgreSQL and from one to the other.

A backup is a folder: one gzip JSON-lines file per table (a row is a JSON array in the manifest's column order; times
ISO 8601 with their offset, JSON columns as JSON) and `manifest.json` (schema revision, columns, row counts and the
sha256 of every file), written last, so a folder without it is an unfinished backup. The rows are read in one snapshot
(a read transaction: SQLite's in WAL mode, PostgreSQL's REPEATABLE READ) and streamed in chunks, so the app keeps
working meanwhile and memory stays flat whatever the store's size.

A restore goes into an empty store in one transaction: it checks every file against the manifest before writing, brings
the schema to the backup's revision, inserts the rows with their ids, runs the newer migrations (a backup made by an
older version is upgraded on the way) and moves PostgreSQL's id sequences past the ids it wrote. Any failure leaves the
target as it was. One thing is not told apart: a JSON column's SQL NULL and JSON `null` (both read as None) come back
as JSON `null`, which is what the app writes."""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Connection,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    func,
    inspect,
    select,
    text,
    type_coerce,
)
from sqlalchemy import column as sql_column
from sqlalchemy import table as sql_table
from sqlalchemy.exc import StatementError
from sqlalchemy.types import DateTime
from sqlmodel import SQLModel
from sqlmodel.sql.sqltypes import UTCDateTime

from core.store.db import current_revision, is_sqlite, migrate, migration_scope, refresh_statistics, revisions
from core.store.models import utcnow  # also registers the tables on SQLModel.metadata

FORMAT = "workbench-backup/1"
MANIFEST = "manifest.json"
CHUNK = 5_000
Progress = Callable[[int, int], None]  # rows done, rows in all

# A column is "datetime", "json" or "plain": the type that reads and writes it (as the app does), and how its values
# are written to a backup file and read back.
_TYPES = {"datetime": UTCDateTime(), "json": JSON()}
_ENCODE: dict[str, Callable[[Any], Any]] = {"datetime": lambda v: v and v.isoformat()}
_DECODE: dict[str, Callable[[Any], Any]] = {"datetime": lambda v: v and datetime.fromisoformat(v)}


class BackupError(Exception):
    """A backup cannot be written or restored; the message says why and what to do."""


@dataclass(frozen=True)
class BackupSummary:
    folder: Path
    revision: str
    rows: dict[str, int]  # table -> rows
    bytes: int

    def line(self) -> str:
        return (
            f"{sum(self.rows.values()):,} rows of {len(self.rows)} tables (schema {self.revision}), "
            f"{self.bytes / 1e6:,.1f} MB in {self.folder}"
        )


def backup(engine: Engine, folder: Path | str, *, progress: Progress | None = None) -> BackupSummary:
    """Write every table of the store to a new folder, from one snapshot.

    The tables are read from the store itself, not from core.store.models, so a store at an older revision can be backed
    up (say, before an upgrade) by this version and restored by any newer one."""
    folder = Path(folder)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise BackupError(f"{folder} exists and is not an empty folder: give a new folder for the backup")
    with _snapshot(engine) as conn:
        revision = current_revision(conn)
        if revision is None:
            raise BackupError("the store has no schema yet, so nothing to back up (`python -m core init` creates it)")
        schema = MetaData()
        schema.reflect(conn)
        # parents before children: the order a restore inserts in
        tables = [t for t in schema.sorted_tables if t.name != "alembic_version"]
        counts = {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one() for t in tables}
        folder.mkdir(parents=True, exist_ok=True)
        done = [0, sum(counts.values())]
        entries = [_dump_table(conn, t, folder, done, progress) for t in tables]
    manifest = {"format": FORMAT, "schema_revision": revision, "created_at": utcnow().isoformat(), "tables": entries}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return _summary(folder, manifest)


def restore(engine: Engine, folder: Path | str, *, progress: Progress | None = None) -> BackupSummary:
    """Restore a backup into an empty store, all or nothing."""
    folder = Path(folder)
    manifest = _checked_manifest(folder)
    revision = manifest["schema_revision"]
    with migration_scope(engine.execution_options(write=True)) as conn:
        _refuse_unless_empty(conn)
        if current_revision(conn) != revision:
            _drop_schema(conn)  # empty, so nothing is lost: rebuilt at the backup's revision
            migrate(conn, revision)
        _refuse_other_tables(conn, manifest)
        done = [0, sum(entry["rows"] for entry in manifest["tables"])]
        for entry in manifest["tables"]:
            _load_table(conn, folder, entry, done, progress)
        migrate(conn)
        _reset_sequences(conn)
    refresh_statistics(engine)
    return _summary(folder, manifest)


@contextmanager
def _snapshot(engine: Engine) -> Iterator[Connection]:
    options = {} if is_sqlite(engine) else {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
    with engine.connect() as conn:
        conn.execution_options(**options)
        with conn.begin():
            yield conn


def _kind(column: Column) -> str:
    if isinstance(column.type, DateTime):
        return "datetime"
    if isinstance(column.type, JSON):
        return "json"
    if isinstance(column.type, Integer | String | Float | Boolean):
        return "plain"
    raise BackupError(
        f"column {column.table.name}.{column.name} has type {column.type!r}, which core/backup.py cannot write yet"
    )


def _dump_table(conn: Connection, table, folder: Path, done: list[int], progress: Progress | None) -> dict:
    columns = {c.name: _kind(c) for c in table.columns}
    encoders = [_ENCODE.get(kind) for kind in columns.values()]
    read = [type_coerce(c, _TYPES[columns[c.name]]).label(c.name) if columns[c.name] in _TYPES else c for c in table.c]
    query = select(*read).order_by(*table.primary_key.columns).execution_options(yield_per=CHUNK)
    path = folder / f"{table.name}.jsonl.gz"
    rows = 0
    with gzip.open(path, "wt", encoding="utf-8", newline="\n", compresslevel=1) as out:
        for chunk in conn.execute(query).partitions():
            out.write("".join(_line(row, encoders) for row in chunk))
            rows += len(chunk)
            done[0] += len(chunk)
            if progress:
                progress(*done)
    return {"name": table.name, "file": path.name, "rows": rows, "sha256": _sha256(path), "columns": columns}


def _line(row, encoders: list) -> str:
    values = [encode(value) if encode else value for value, encode in zip(row, encoders, strict=True)]
    return json.dumps(values, ensure_ascii=False, separators=(",", ":")) + "\n"


def _checked_manifest(folder: Path) -> dict:
    """The manifest, once every file it names is there and matches its checksum (nothing is written before)."""
    path = folder / MANIFEST
    if not path.is_file():
        raise BackupError(f"{path} is missing: {folder} is not a backup, or an unfinished one; nothing was restored")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise BackupError(f"{path} is not valid JSON ({error}); nothing was restored") from error
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{path} is not a manifest of this workbench's backups ({FORMAT}); nothing was restored")
    known = revisions()
    if manifest["schema_revision"] not in known:
        raise BackupError(
            f"the backup's schema revision {manifest['schema_revision']} is unknown to this version of the workbench "
            f"(newest: {known[-1]}): restore it with the version that made it, or a newer one; nothing was restored"
        )
    for entry in manifest["tables"]:
        file = folder / entry["file"]
        if not file.is_file():
            raise BackupError(f"{file} is missing: the backup is incomplete; nothing was restored")
        if _sha256(file) != entry["sha256"]:
            raise BackupError(
                f"{file} does not match its sha256 in the manifest: it was changed or damaged; nothing was restored"
            )
    return manifest


def _refuse_unless_empty(conn: Connection) -> None:
    for name in inspect(conn).get_table_names():
        if name != "alembic_version" and conn.execute(select(text("1")).select_from(sql_table(name))).first():
            raise BackupError(
                f"the target store is not empty (table {name} has rows): restore into a new, empty store "
                "(a new database or DATABASE_URL); nothing was restored"
            )


def _drop_schema(conn: Connection) -> None:
    schema = MetaData()
    schema.reflect(conn)
    schema.drop_all(conn)


def _refuse_other_tables(conn: Connection, manifest: dict) -> None:
    expected = set(inspect(conn).get_table_names()) - {"alembic_version"}
    found = {entry["name"] for entry in manifest["tables"]}
    if found != expected:
        raise BackupError(
            f"the manifest's tables do not match schema {manifest['schema_revision']} "
            f"(missing: {sorted(expected - found)}, unknown: {sorted(found - expected)}); nothing was restored"
        )


def _load_table(conn: Connection, folder: Path, entry: dict, done: list[int], progress: Progress | None) -> None:
    names = list(entry["columns"])
    decoders = [_DECODE.get(kind) for kind in entry["columns"].values()]
    insert = sql_table(
        entry["name"], *[sql_column(name, _TYPES.get(kind)) for name, kind in entry["columns"].items()]
    ).insert()
    rows = 0
    with gzip.open(folder / entry["file"], "rt", encoding="utf-8", newline="\n") as lines:
        while chunk := list(islice(lines, CHUNK)):
            try:
                conn.execute(insert, [_row(names, decoders, json.loads(line)) for line in chunk])
            except (StatementError, ValueError) as error:
                reason = getattr(error, "orig", None) or error
                raise BackupError(
                    f"{entry['file']} (lines {rows + 1}-{rows + len(chunk)}) cannot be restored: {reason}; "
                    "nothing was restored"
                ) from error
            rows += len(chunk)
            done[0] += len(chunk)
            if progress:
                progress(*done)
    if rows != entry["rows"]:
        raise BackupError(f"{entry['file']} holds {rows} rows, the manifest says {entry['rows']}; nothing was restored")


def _row(names: list[str], decoders: list, values: list) -> dict[str, Any]:
    return {
        name: decode(value) if decode else value for name, decode, value in zip(names, decoders, values, strict=True)
    }


def _reset_sequences(conn: Connection) -> None:
    """PostgreSQL hands out ids from a sequence that explicit ids do not move: set it past the largest one."""
    if conn.dialect.name != "postgresql":
        return
    for table in SQLModel.metadata.sorted_tables:
        for column in table.primary_key.columns:
            sequence = conn.execute(
                text("SELECT pg_get_serial_sequence(:table, :column)"), {"table": table.name, "column": column.name}
            ).scalar()
            if sequence:
                largest = conn.execute(select(func.max(column))).scalar()
                conn.execute(
                    text("SELECT setval(:sequence, :value, :called)"),
                    {"sequence": sequence, "value": largest or 1, "called": largest is not None},
                )


def _sha256(path: Path) -> str:
    with path.open("rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def _summary(folder: Path, manifest: dict) -> BackupSummary:
    return BackupSummary(
        folder=folder,
        revision=manifest["schema_revision"],
        rows={entry["name"]: entry["rows"] for entry in manifest["tables"]},
        bytes=sum((folder / entry["file"]).stat().st_size for entry in manifest["tables"]),
    )

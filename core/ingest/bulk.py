"""A large import into SQLite loads as bulk loaders do: the secondary indexes of the tables it fills are dropped
after its first batch and rebuilt from their own SQL at its end, in the same transaction.

Inserting a million rows in random key order into four secondary B-trees cost SQLite more than everything else an
import does; building each index once, from sorted keys, costs a fraction of that (docs/performance.md, "Imports").
SQLite's DDL is transactional: a refused file rolls the drop back with its rows, so the store keeps its indexes and
an import stays all-or-nothing. Unique indexes stay, as the import's own duplicate checks need them.

The rule: defer when the file's expected new rows (its estimated rows times the share of its first batch that was
new) number at least MIN_ROWS and at least the rows already in each of the tables. A small file into a big store,
or a file already imported, keeps the indexes, as rebuilding them would cost more than it saves. A larger page cache
(`PRAGMA cache_size`, 256 MB instead of 2 MB) made a million-row import slower, not faster: it is left alone.

Not on PostgreSQL: DROP INDEX takes an ACCESS EXCLUSIVE lock that would block every reader for the whole import."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection

MIN_ROWS = 100_000  # a smaller file imports in a few seconds either way: not worth touching the schema
SAMPLE_BYTES = 64 * 1024


def estimated_rows(path: Path) -> int:
    """The file's lines, estimated from its size and the length of its first lines."""
    with open(path, "rb") as handle:
        sample = handle.read(SAMPLE_BYTES)
    return path.stat().st_size * max(sample.count(b"\n"), 1) // max(len(sample), 1)


def pays(conn: Connection, tables: tuple[str, ...], expected_new: int) -> bool:
    """Whether to defer: many new rows, at least as many as the biggest of the tables holds (counted only then)."""
    if expected_new < MIN_ROWS:
        return False
    return all(expected_new >= conn.exec_driver_sql(f'SELECT count(*) FROM "{t}"').scalar_one() for t in tables)


@contextmanager
def indexes_deferred(conn: Connection, tables: tuple[str, ...], expected_new: int) -> Iterator[None]:
    """Within the block, `tables` lack their secondary indexes if that `pays` (SQLite only); they are rebuilt when
    the block ends normally and left to the transaction's rollback when it raises."""
    if conn.dialect.name != "sqlite" or not tables or not pays(conn, tables, expected_new):
        yield
        return
    definitions = secondary_indexes(conn, tables)
    for name in definitions:
        conn.exec_driver_sql(f'DROP INDEX "{name}"')
    yield
    for sql in definitions.values():
        conn.exec_driver_sql(sql)


def secondary_indexes(conn: Connection, tables: tuple[str, ...]) -> dict[str, str]:
    """Name -> CREATE INDEX statement (as the migrations wrote it) of each non-unique index made by CREATE INDEX."""
    found: dict[str, str] = {}
    for table in tables:
        for _, name, unique, origin, _ in conn.exec_driver_sql(f'PRAGMA index_list("{table}")'):
            if origin == "c" and not unique:
                found[name] = conn.exec_driver_sql(
                    "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?", (name,)
                ).scalar_one()
    return found

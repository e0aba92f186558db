"""Core statements compiled once per dialect and run on the bare DB-API cursor: the reviewer's hot path (take an
item, submit a judgment, its audit event) runs a dozen short statements per cycle, and SQLAlchemy's execution of each
(events, parameter and result set-up) cost several times the SQL itself.

`prepare` compiles a statement into the driver's SQL text and parameter order, with SQLAlchemy's own bind and result
processors for every column type (timestamps, JSON, booleans), so the values written and read are those of
`Connection.execute`. A `Runner` executes prepared statements on one connection inside the caller's transaction and
raises DB-API errors as SQLAlchemy's exceptions (`OperationalError`, `IntegrityError`...), as `Connection.execute`
does, invalidating the connection on a disconnect."""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from sqlalchemy import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.expression import Executable
from sqlmodel import Session


@dataclass(frozen=True)
class Prepared:
    sql: str
    names: tuple[str, ...]  # the parameters of the SQL text, in order
    # per parameter: (bind processor of the caller's value, True and the value if the statement holds its own)
    slots: tuple[tuple[Callable | None, bool, Any], ...]
    positional: bool  # qmark (SQLite) or named (psycopg) parameters
    dialect: Dialect
    types: tuple[Any, ...]  # per result column: its type, as the dialect implements it
    row: Callable[..., tuple] | None  # a named tuple of the result columns (None: the statement returns no rows)
    # result processors by the driver's column type codes (psycopg's depend on them, e.g. float4 or numeric)
    results: dict[tuple, tuple[Callable | None, ...]] = field(default_factory=dict, compare=False)

    def parameters(self, values: dict[str, Any]) -> tuple | dict[str, Any]:
        """The caller's values (by bind name) and the statement's own, ready for the driver."""
        ready = [
            value if own else (values[name] if process is None else process(values[name]))
            for name, (process, own, value) in zip(self.names, self.slots, strict=True)
        ]
        return tuple(ready) if self.positional else dict(zip(self.names, ready, strict=True))

    def rows(self, fetched: list[tuple], description: Any) -> list[tuple]:
        """The driver's rows as named tuples of values as SQLAlchemy would return them."""
        codes = tuple(column[1] for column in description)
        if (results := self.results.get(codes)) is None:
            results = self.results[codes] = tuple(
                t.result_processor(self.dialect, code) for t, code in zip(self.types, codes, strict=True)
            )
        row = self.row
        return [row(*[v if p is None else p(v) for v, p in zip(r, results, strict=True)]) for r in fetched]


@cache
def prepare(statement: Executable, dialect: Dialect) -> Prepared:
    """`statement` (built once and cached by its caller) compiled for `dialect`, once. Its bind parameters are plain
    ones: an expanding one (`in_` of a list bound at each call) is refused."""
    return compile_statement(statement, dialect, expanding=False)


def compile_statement(statement: Executable, dialect: Dialect, *, expanding: bool = True) -> Prepared:
    """`statement` compiled for `dialect`. With `expanding`, a list the statement holds (`in_([...])`) is written out
    as one parameter per value, for a statement built at its call and run once (`Runner.execute`). A column left to
    a Python-side default (computed by SQLAlchemy at each execution) is refused: an insert names every such column."""
    compiled = statement.compile(dialect=dialect, compile_kwargs={"render_postcompile": expanding})
    if not expanding and (compiled.post_compile_params or compiled.literal_execute_params):
        raise ValueError(f"cannot prepare a statement with expanding parameters: {statement}")
    if defaulted := [c.name for c in (*compiled.insert_prefetch, *compiled.update_prefetch)]:
        raise ValueError(f"cannot prepare a statement that leaves {', '.join(defaulted)} to a Python-side default")
    types = {name: bind.type for bind, name in compiled.bind_names.items()}
    given = {bind_name for bind, bind_name in compiled.bind_names.items() if not bind.required}
    own = compiled.params
    for bind in compiled.post_compile_params if expanding else ():  # name_1 written out as name_1_1, name_1_2...
        name = compiled.bind_names[bind]
        expanded = [key for key in own if key.startswith(f"{name}_") and key[len(name) + 1 :].isdigit()]
        types.pop(name)
        types |= dict.fromkeys(expanded, bind.type)
        given |= set(expanded)

    def processor(name: str) -> Callable | None:
        return types[name].dialect_impl(dialect).bind_processor(dialect)

    def slot(name: str) -> tuple[Callable | None, bool, Any]:
        process = processor(name)
        if name not in given:
            return process, False, None
        return None, True, own[name] if process is None else process(own[name])

    names = tuple(compiled.positiontup if compiled.positional else types)
    columns = list(statement.exported_columns)  # a select's, or what a DML statement returns (none: [])
    return Prepared(
        sql=str(compiled),
        names=names,
        slots=tuple(slot(name) for name in names),
        positional=compiled.positional,
        types=tuple(c.type.dialect_impl(dialect) for c in columns),
        dialect=dialect,
        row=namedtuple("Row", [c.key for c in columns], rename=True) if columns else None,
    )


class Runner:
    """Prepared statements on one DB-API connection, in the transaction its owner began (`core.store.db.write_scope`, or
    a Session's: `on(session)`)."""

    def __init__(self, dbapi_connection: Any, dialect: Dialect, invalidate: Callable[[], None]) -> None:
        self.dialect = dialect
        self._connection = dbapi_connection
        self._cursor = dbapi_connection.cursor()
        self._drop = invalidate
        self._dropped = False

    def rows(self, statement: Executable, values: dict[str, Any]) -> list[tuple]:
        """The rows of a statement built once (as named tuples of its columns); [] for one that returns none."""
        return self._run(prepare(statement, self.dialect), values)

    def execute(self, statement: Executable, values: dict[str, Any] | None = None) -> list[tuple]:
        """The rows of a statement built for this call, compiled for it alone (set-based work that runs rarely: the
        queue syncs); `rows` is for statements built once."""
        return self._run(compile_statement(statement, self.dialect), values or {})

    def _run(self, prepared: Prepared, values: dict[str, Any]) -> list[tuple]:
        parameters = prepared.parameters(values)
        try:
            self._cursor.execute(prepared.sql, parameters)
            if prepared.row is None:
                return []
            fetched = self._cursor.fetchall()
        except self.dialect.loaded_dbapi.Error as error:
            raise self.failed(error, prepared.sql, parameters) from error
        return prepared.rows(fetched, self._cursor.description)

    def changed(self) -> int:
        """How many rows the last statement inserted, updated or deleted."""
        return self._cursor.rowcount

    def first(self, statement: Executable, values: dict[str, Any]) -> Any:
        found = self.rows(statement, values)
        return found[0] if found else None

    def scalar(self, statement: Executable, values: dict[str, Any]) -> Any:
        found = self.rows(statement, values)
        return found[0][0] if found else None

    def driver_sql(self, sql: str) -> None:
        """A statement without parameters or rows (BEGIN, COMMIT)."""
        try:
            self._cursor.execute(sql)
        except self.dialect.loaded_dbapi.Error as error:
            raise self.failed(error, sql, None) from error

    def commit(self) -> None:
        try:
            self._connection.commit()
        except self.dialect.loaded_dbapi.Error as error:
            raise self.failed(error, "COMMIT", None) from error

    def rollback(self) -> None:
        """Roll back, quietly: this follows an error, and a dead connection has nothing to roll back."""
        try:
            self._connection.rollback()
        except self.dialect.loaded_dbapi.Error:
            self._invalidate()

    def _invalidate(self) -> None:
        """Drop the connection from the pool, once: a rollback after the error that dropped it fails again."""
        if not self._dropped:
            self._dropped = True
            self._drop()

    def failed(self, error: Exception, sql: str | None, parameters: Any) -> Exception:
        """A DB-API error as SQLAlchemy raises it; a lost connection is invalidated (the pool drops it)."""
        return wrapped(error, self.dialect, sql, parameters, self._connection, self._cursor, self._invalidate)


def wrapped(
    error: Exception, dialect: Dialect, sql: str | None, parameters: Any, connection=None, cursor=None, invalidate=None
) -> Exception:
    """A DB-API error as SQLAlchemy's exception of the same kind (what `Connection.execute` would raise)."""
    lost = dialect.is_disconnect(error, connection, cursor)
    if lost and invalidate is not None:
        invalidate()
    base = dialect.loaded_dbapi.Error
    return DBAPIError.instance(sql, parameters, error, base, connection_invalidated=lost, dialect=dialect)


def on(store: Session | Runner) -> Runner:
    """A runner in a Session's transaction (or the runner itself): the hot path's functions take either."""
    if isinstance(store, Runner):
        return store
    conn = store.connection()
    return Runner(conn.connection.dbapi_connection, conn.dialect, conn.invalidate)

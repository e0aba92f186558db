"""What every benchmark shares: its arguments, fresh stores in temporary places (never the live one), timing, peak
memory (also of a child process), a readable table, and the final JSON line."""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import resource
import sqlite3
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from time import perf_counter, process_time
from typing import Any

from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.exc import SQLAlchemyError

from core.store.db import get_engine, is_sqlite, refresh_statistics, upgrade_schema

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def parse_args(
    description: str,
    default_scale: int,
    argv: Sequence[str] | None = None,
    options: Callable[[argparse.ArgumentParser], None] | None = None,
) -> argparse.Namespace:
    """`--scale` and `--database-url`, and the benchmark's own `options` (a function adding them to the parser)."""
    parser = argparse.ArgumentParser(description=description)
    if options:
        options(parser)
    parser.add_argument(
        "--scale", type=int, default=default_scale, help=f"rows to generate (default {default_scale:,})"
    )
    parser.add_argument(
        "--database-url",
        help="sqlite:///NEW_FILE: run the SQLite part on that file (it must not exist yet); postgresql+psycopg://...: "
        "the server on which to create, and afterwards drop, a fresh database for the PostgreSQL part. "
        f"Default: SQLite in a temporary folder, PostgreSQL on $TEST_DATABASE_URL or {DEFAULT_POSTGRES_URL} "
        "if reachable (skipped with a note if not)",
    )
    args = parser.parse_args(argv)
    if args.scale < 1:
        parser.error("--scale must be at least 1")
    return args


def split_database_url(url: str | None) -> tuple[str | None, str | None]:
    """`--database-url` as (SQLite store URL, PostgreSQL server URL): one of them, or neither."""
    if not url:
        return None, None
    return (url, None) if make_url(url).get_backend_name() == "sqlite" else (None, url)


def say(message: str) -> None:
    """Progress, on stderr: stdout holds only the results."""
    print(message, file=sys.stderr, flush=True)


@contextmanager
def temp_folder(prefix: str) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix=f"wb-bench-{prefix}-") as folder:
        yield Path(folder)


def fresh_sqlite(folder: Path, name: str = "store.db", url: str | None = None) -> str:
    """A new, migrated SQLite store in `folder` (or at `url`, which must name a file that does not exist yet)."""
    url = url or f"sqlite:///{folder / name}"
    database = make_url(url).database
    if not database or database == ":memory:":
        raise SystemExit(f"{url}: a benchmark needs a SQLite file (an in-memory store is not shared by its processes)")
    if Path(database).exists():
        raise SystemExit(f"{url}: the file exists; a benchmark runs only on a new store, never on one in use")
    upgrade_schema(get_engine(url))
    return url


def drop_sqlite(url: str) -> None:
    """Close the store's connections and delete its files (a large store should not outlive its leg)."""
    get_engine(url).dispose()
    database = Path(make_url(url).database)
    for path in (database, database.with_name(database.name + "-wal"), database.with_name(database.name + "-shm")):
        path.unlink(missing_ok=True)


@contextmanager
def fresh_postgres(server_url: str | None = None) -> Iterator[str | None]:
    """A new, migrated database on the PostgreSQL server, dropped afterwards; None (with a note) if unreachable."""
    base = server_url or os.environ.get("TEST_DATABASE_URL") or DEFAULT_POSTGRES_URL
    shown = make_url(base).render_as_string(hide_password=True)
    admin = create_engine(base, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    name = f"wb_bench_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except SQLAlchemyError as error:
        admin.dispose()
        reason = (str(getattr(error, "orig", None) or error).strip().splitlines() or ["?"])[0]
        print(f"note: PostgreSQL skipped: {shown} is unreachable or refused CREATE DATABASE ({reason})", flush=True)
        yield None
        return
    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade_schema(get_engine(url))
        yield url
    finally:
        get_engine(url).dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def settle(engine: Engine) -> None:
    """What the database or the product does soon after a bulk change, done now so that no leg pays for it: on
    SQLite the checkpoint that moves the write-ahead log into the file (otherwise the first commit past 1,000 pages
    copies the whole load) and the statistics the product gathers after its bulk writes; on PostgreSQL
    autovacuum's VACUUM ANALYZE (without statistics the planner guesses)."""
    if is_sqlite(engine):
        raw = engine.raw_connection()
        try:
            busy, _, _ = raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        finally:
            raw.close()
        if busy:
            raise SystemExit("the WAL checkpoint after the load could not finish (is another process on the store?)")
        refresh_statistics(engine)  # what the product does after its own bulk writes (imports, retraining)
    else:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")


def advance_sequences(engine: Engine) -> None:
    """On PostgreSQL, move every table's id sequence past the ids a bulk load wrote itself (explicit ids leave the
    sequences at 1, and the app's next insert would collide); SQLite needs nothing."""
    if is_sqlite(engine):
        return
    with engine.begin() as conn:
        tables = conn.exec_driver_sql(
            "SELECT table_name FROM information_schema.columns WHERE table_schema = current_schema() "
            "AND column_name = 'id' AND column_default LIKE 'nextval%%'"
        ).scalars()
        for table in list(tables):
            conn.exec_driver_sql(
                f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "
                f'(SELECT COALESCE(MAX(id), 0) + 1 FROM "{table}"), false)'
            )


class Timer:
    """`with Timer() as t: ...` then `t.seconds` (wall clock) and `t.cpu_seconds` (this process's CPU time: on a
    shared machine the wall clock also counts other processes' turns; a database server's CPU is not counted)."""

    seconds: float = 0.0
    cpu_seconds: float = 0.0

    def __enter__(self) -> Timer:
        self._start, self._cpu = perf_counter(), process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds, self.cpu_seconds = perf_counter() - self._start, process_time() - self._cpu


def per_second(count: int, seconds: float) -> int:
    return round(count / seconds) if seconds > 0 else 0


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0 to 100) of `values`, interpolated between the two nearest ranks (numpy's default)."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MB (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def own_peak_rss_mb() -> float:
    """This process's own peak resident memory in MB, for a spawned child: Linux carries the parent's peak over into
    a spawned child's ru_maxrss (the exec happens from the parent's memory), so `peak_rss_mb()` there reports at
    least the parent's peak; VmHWM counts only the child's own pages. Where /proc is missing: `peak_rss_mb()`."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return peak_rss_mb()


def in_child(fn: Callable[..., Any], *args: Any) -> tuple[Any, float]:
    """Run `fn(*args)` in a freshly spawned interpreter: (its result, that process's own peak RSS in MB).

    `fn` must be a module-level function; its arguments and result must pickle."""
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(_measured, fn, *args).result()


def _measured(fn: Callable[..., Any], *args: Any) -> tuple[Any, float]:
    result = fn(*args)
    return result, peak_rss_mb()


def machine() -> dict[str, Any]:
    """What the figures were measured on, with the load average (other work on the machine slows every leg)."""
    return {
        "cpus": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(terse=True),
    }


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Columns aligned: text to the left, numbers (and blanks) to the right."""
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [max(len(str(h)), *(len(row[i]) for row in cells)) for i, h in enumerate(headers)]
    numeric = [all(not isinstance(row[i], str) or row[i] in ("", "-") for row in rows) for i in range(len(headers))]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric, strict=True))

    print(line([str(h) for h in headers]).rstrip())
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print(line(row).rstrip())


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


def print_figures(figures: dict[str, Any]) -> None:
    """The last line of every benchmark: one JSON object with every figure, for scripts comparing runs."""
    print(json.dumps(figures), flush=True)


def finish(figures: dict[str, Any]) -> None:
    """Print the final JSON line (its `checks_ok` says whether every correctness check passed), then exit 1 if one
    failed: a benchmark whose figures come from wrong work must not pass for a result. A missed target is a verdict
    in the line, not a failure."""
    print_figures(figures)
    if not figures["checks_ok"]:
        print("CHECK FAILED: see checks_ok in the line above", file=sys.stderr, flush=True)
        raise SystemExit(1)

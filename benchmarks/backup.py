"""Backup and restore of a store of N judgments (default 1,000,000): `python -m benchmarks.backup`.

Per database (SQLite in a temporary folder; PostgreSQL as a fresh database, dropped afterwards, skipped with a note
if unreachable), on the store of benchmarks.dashboard_store (a year of judgments with their work items, assignments,
audit events, moderation scores...: every row counts, about five per judgment), built and settled untimed:

- backup: `core.store.backup.backup` to a new folder, in a freshly spawned process: seconds, rows/s, MB on disk, and
  that
  process's own peak RSS (the rows are streamed: it should not grow with the store);
- restore: `core.store.backup.restore` of that folder into a new store of the same database (SQLite: a file with no
  schema yet; PostgreSQL: a fresh database), in a spawned process too: seconds, rows/s, peak RSS; then the row
  counts of the restored store are checked against the manifest (untimed).

No target in the issue; the figures go in docs/performance.md ("Backups")."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlmodel import SQLModel

from benchmarks.common import (
    Timer,
    drop_sqlite,
    finish,
    fresh_postgres,
    fresh_sqlite,
    in_child,
    machine,
    own_peak_rss_mb,
    parse_args,
    peak_rss_mb,
    per_second,
    print_table,
    say,
    settle,
    split_database_url,
    temp_folder,
)
from benchmarks.dashboard_store import build_dashboard_store
from core.store.backup import backup, restore
from core.store.db import get_engine

DEFAULT_SCALE = 1_000_000


def _backup(url: str, folder: str) -> tuple[float, int, int, float]:
    """In a fresh process: (seconds, rows, bytes, this process's own peak RSS in MB)."""
    with Timer() as t:
        summary = backup(get_engine(url), folder)
    return t.seconds, sum(summary.rows.values()), summary.bytes, own_peak_rss_mb()


def _restore(url: str, folder: str) -> tuple[float, float]:
    """In a fresh process: (seconds, this process's own peak RSS in MB)."""
    with Timer() as t:
        restore(get_engine(url), folder)
    return t.seconds, own_peak_rss_mb()


def _counts(url: str) -> dict[str, int]:
    with get_engine(url).connect() as conn:
        return {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in SQLModel.metadata.sorted_tables
        }


def run_database(url: str, target_url: str, folder: Path, scale: int) -> dict[str, Any]:
    engine = get_engine(url)
    say(f"  building {scale:,} judgments ...")
    with Timer() as built:
        counts = build_dashboard_store(engine, judgments=scale, progress=say)
    settle(engine)
    say("  backup ...")
    (seconds, rows, size, backup_rss), _ = in_child(_backup, url, str(folder))
    say("  restore ...")
    (restore_seconds, restore_rss), _ = in_child(_restore, target_url, str(folder))
    restored = _counts(target_url)
    if restored != _counts(url):
        raise SystemExit(f"the restored store differs from the original: {restored} != {_counts(url)}")
    return {
        "restored_rows_equal": True,  # table by table (a difference stops the run above, exit 1)
        "judgments": counts["judgments"],
        "build_s": round(built.seconds, 1),
        "rows": rows,
        "backup_mb": round(size / 1e6, 1),
        "backup_s": round(seconds, 1),
        "backup_rows_per_s": per_second(rows, seconds),
        "backup_peak_rss_mb": round(backup_rss, 1),
        "restore_s": round(restore_seconds, 1),
        "restore_rows_per_s": per_second(rows, restore_seconds),
        "restore_peak_rss_mb": round(restore_rss, 1),
    }


def main(argv: list[str] | None = None) -> None:
    args = parse_args(__doc__.splitlines()[0], DEFAULT_SCALE, argv)
    sqlite_url, postgres_server = split_database_url(args.database_url)
    out: dict[str, Any] = {"scale": args.scale, "load_average_at_start": round(os.getloadavg()[0], 2)}
    with temp_folder("backup") as folder:
        say("Backup, SQLite ...")
        url = fresh_sqlite(folder, "store.db", sqlite_url)
        target = f"sqlite:///{folder / 'restored.db'}"
        out |= {f"sqlite_{k}": v for k, v in run_database(url, target, folder / "sqlite-backup", args.scale).items()}
        drop_sqlite(target)
        if sqlite_url:
            get_engine(url).dispose()
        else:
            drop_sqlite(url)
        with fresh_postgres(postgres_server) as pg_url, fresh_postgres(postgres_server) as pg_target:
            if pg_url and pg_target:
                say("Backup, PostgreSQL ...")
                legs = run_database(pg_url, pg_target, folder / "postgres-backup", args.scale)
                out |= {f"postgres_{k}": v for k, v in legs.items()}
    out["peak_rss_mb"] = round(peak_rss_mb(), 1)
    out["load_average_at_end"] = round(os.getloadavg()[0], 2)
    dbs = [db for db in ("sqlite", "postgres") if f"{db}_rows" in out]
    m = machine()
    load = f"load average {out['load_average_at_start']} -> {out['load_average_at_end']}"
    print(f"Backup and restore: {args.scale:,} judgments asked; {m['cpus']} cores, SQLite {m['sqlite']}; {load}")
    headers = ["store", "judgments", "rows", "MB on disk", "leg", "s", "rows/s", "peak RSS MB"]
    table = []
    for db in dbs:
        for leg in ("backup", "restore"):
            size = [out[f"{db}_judgments"], out[f"{db}_rows"], out[f"{db}_backup_mb"]]
            table.append(
                [db, *size, leg, out[f"{db}_{leg}_s"], out[f"{db}_{leg}_rows_per_s"], out[f"{db}_{leg}_peak_rss_mb"]]
            )
    print_table(headers, table)
    checks_ok = bool(dbs) and all(out[f"{db}_restored_rows_equal"] and out[f"{db}_rows"] > 0 for db in dbs)
    print(f"check: every table restored with the original's row count: {'PASS' if checks_ok else 'FAILED'}")
    finish(out | {"checks_ok": checks_ok})


if __name__ == "__main__":
    main(sys.argv[1:])

"""Import benchmark: N moderation rows (JSONL) through `core.ingest.import_file`.

    python -m benchmarks.imports [--scale N] [--database-url URL]

Legs, all on the same generated file: a fresh SQLite store (a bulk load: `import_file` drops the moderation tables'
secondary indexes after the first batch and rebuilds them before the commit, core.ingest.bulk), the same file
re-imported (every row already present: the indexes stay), the same two on PostgreSQL (a fresh database, dropped
afterwards; skipped with a note if the server is unreachable), and the floor: the plain `sqlite3` module inserting the
same rows into the same tables of a fresh migrated store, in one transaction with `executemany`, no validation, by the
importer's own method: where the importer defers the indexes (`core.ingest.bulk.MIN_ROWS` rows or more into empty
tables) the floor too drops the tables' secondary indexes after its first batch and rebuilds them from their own SQL
before the commit; below that it keeps them, as the importer does. So `ratio_to_floor` is the importer's own overhead
(validation, duplicate checks, SQLAlchemy), not a difference of method. The importer also runs once more, alone in a
spawned process, so `peak_rss_mb` is its own peak and not the floor's or the generator's.

No peer figure: `python -m benchmarks.labelstudio --server` measures Label Studio's own import beside ours.

Targets (the issue): >= 50,000 rows/s on SQLite with validation on, peak memory <= 1 GB."""

from __future__ import annotations

import json
import random
import sqlite3
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import make_url

from benchmarks.common import (
    Timer,
    drop_sqlite,
    finish,
    fresh_postgres,
    fresh_sqlite,
    in_child,
    machine,
    parse_args,
    peak_rss_mb,
    per_second,
    print_table,
    say,
    split_database_url,
    temp_folder,
)
from core.ingest import BATCH_ROWS, bulk, import_file
from core.store.db import get_engine
from core.store.models import CATEGORIES, utcnow

DEFAULT_SCALE = 1_000_000
TARGET_ROWS_PER_S = 50_000
TARGET_PEAK_RSS_MB = 1024
BULK_TABLES = ("moderation_item", "moderation_score")  # the moderation importer's bulk_tables

VERSIONS = ("toxicity-clf-2024-06", "toxicity-clf-2024-11")
LANGUAGES = ("en", "en", "en", "de", "fr", "es", "pt")
SOURCES = ("forum", "chat", "support-ticket", "product-review", "social")
VOCABULARY = """
the a to and of you is it that this for was on are with have be not they at but your just like so what can all
about people would there when think know really one get time more how good because make some them even want
only way also thing going well back much right still thanks please account order refund delivery app update
broken again never always worst best love hate stupid idiot awful terrible great amazing nice fine moderator
comment post thread reply user admin ban report spam link click free offer money crypto scam shut up kill
yourself threat lawyer police address phone email street über très déjà naïve café für größer
"""
WORDS = VOCABULARY.split()


def write_moderation_file(path: Path, rows: int, seed: int = 20240611) -> None:
    """Stream `rows` realistic moderation rows to `path`, one JSON object a line (nothing held in memory)."""
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as out:
        for number in range(rows):
            score = round(rng.random(), 4)
            toxic = score >= 0.5
            row: dict[str, Any] = {
                "item_id": f"bench-{number:08d}",
                "text": _text(rng),
                "model": rng.choice(VERSIONS),
                "score": score,
                "predicted_label": "toxic" if toxic else "not_toxic",
            }
            if toxic and rng.random() < 0.6:
                row["categories"] = rng.sample(CATEGORIES, rng.randint(1, 2))
            if rng.random() < 0.5:
                row["meta"] = {"language": rng.choice(LANGUAGES)}
                if rng.random() < 0.6:
                    row["meta"]["source"] = rng.choice(SOURCES)
            out.write(json.dumps(row, ensure_ascii=False) + "\n")


def _text(rng: random.Random) -> str:
    """40 to 200 characters of words."""
    target, words, length = rng.randint(40, 190), [], -1
    while length < target:
        word = rng.choice(WORDS)
        words.append(word)
        length += len(word) + 1
    return " ".join(words).capitalize() + rng.choice((".", "!", "?", "", "!!"))


def floor_insert(url: str, path: Path) -> tuple[int, int]:
    """The floor: plain `sqlite3`, the same rows into moderation_item and moderation_score (same columns, same
    PRAGMAs as the store's engine), one transaction, `executemany` per chunk; no validation, no duplicate checks.
    At `core.ingest.bulk.MIN_ROWS` estimated rows or more (the importer's rule on empty tables) the secondary indexes
    are dropped after the first chunk and rebuilt before the commit, as `core.ingest.bulk.indexes_deferred` does.
    Returns (rows inserted, indexes dropped and rebuilt).

    The tables are new, so item ids are assigned here in file order instead of being read back."""
    db = sqlite3.connect(make_url(url).database, isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "busy_timeout=30000"):
        db.execute(f"PRAGMA {pragma}")
    now = utcnow().strftime("%Y-%m-%d %H:%M:%S.%f")  # how SQLAlchemy writes a DateTime on SQLite
    db.execute("BEGIN IMMEDIATE")
    db.executemany(
        "INSERT INTO model_version (name, kind, notes, meta, created_at) VALUES (?, 'moderation', '', '{}', ?)",
        [(name, now) for name in VERSIONS],
    )
    versions = dict(db.execute("SELECT name, id FROM model_version"))
    item_id, deferred = 0, {}
    with open(path, "rb") as handle:
        for number, chunk in enumerate(_chunks(handle, BATCH_ROWS)):
            if number == 1 and bulk.estimated_rows(path) >= bulk.MIN_ROWS:
                deferred = secondary_indexes(db, BULK_TABLES)
                for name in deferred:
                    db.execute(f'DROP INDEX "{name}"')
            items, scores = [], []
            for line in chunk:
                row = json.loads(line)
                item_id += 1
                items.append((item_id, row["item_id"], row["text"], json.dumps(row.get("meta", {})), now))
                scores.append(
                    (
                        item_id,
                        versions[row["model"]],
                        row["score"],
                        row["predicted_label"],
                        json.dumps(row.get("categories", [])),
                        now,
                    )
                )
            db.executemany(
                "INSERT INTO moderation_item (id, external_id, source, text, meta, created_at) "
                "VALUES (?, ?, 'import', ?, ?, ?)",
                items,
            )
            db.executemany(
                "INSERT INTO moderation_score (item_id, model_version_id, score, predicted_label, categories, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?)",
                scores,
            )
    for sql in deferred.values():
        db.execute(sql)
    db.execute("COMMIT")
    missing = set(deferred) - set(secondary_indexes(db, BULK_TABLES))
    db.close()
    if missing:
        raise SystemExit(f"the floor did not rebuild {sorted(missing)}")
    return item_id, len(deferred)


def secondary_indexes(db: sqlite3.Connection, tables: tuple[str, ...]) -> dict[str, str]:
    """Name -> CREATE INDEX statement of each non-unique index made by CREATE INDEX (as core.ingest.bulk finds them)."""
    found: dict[str, str] = {}
    for table in tables:
        for _, name, unique, origin, _ in db.execute(f'PRAGMA index_list("{table}")').fetchall():
            if origin == "c" and not unique:
                sql = "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?"
                (found[name],) = db.execute(sql, (name,)).fetchone()
    return found


def _chunks(handle: BinaryIO, size: int) -> Iterator[list[bytes]]:
    while chunk := list(islice(handle, size)):
        yield chunk


def import_once(url: str, path: Path) -> dict[str, Any]:
    """One `import_file` of the moderation file into the store at `url`: its times and summary."""
    engine = get_engine(url)
    with Timer() as timer:
        summary = import_file(path, "moderation", engine=engine)
    return {
        "seconds": timer.seconds,
        "cpu_seconds": timer.cpu_seconds,
        "rows": summary.rows_read,
        "added": summary.added,
        "present": summary.present,
    }


def import_twice(url: str, path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """A fresh import, then the same file again (what the child process runs)."""
    return import_once(url, path), import_once(url, path)


def _checked(leg: dict[str, Any], rows: int, *, again: bool) -> dict[str, Any]:
    """A leg that did not do the whole job would make its rate meaningless: stop there."""
    expected = (0, rows) if again else (rows, 0)
    if (leg["rows"], leg["added"], leg["present"]) != (rows, *expected):
        raise SystemExit(f"import went wrong: {leg} (expected {rows:,} rows, added/present {expected})")
    return leg


def run(rows: int, database_url: str | None) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Every leg on one generated file: (file facts, leg key -> label, seconds, cpu_seconds, peak RSS)."""
    sqlite_url, postgres_server = split_database_url(database_url)
    legs: dict[str, dict[str, Any]] = {}
    with temp_folder("imports") as folder:
        path = folder / "moderation.jsonl"
        say(f"generating {rows:,} moderation rows ...")
        with Timer() as generated:
            write_moderation_file(path, rows)
        facts = {"file_mb": round(path.stat().st_size / 2**20, 1), "generate_seconds": round(generated.seconds, 2)}

        say("floor: sqlite3 executemany, the importer's method ...")
        floor_url = fresh_sqlite(folder, "floor.db")
        with Timer() as floor:
            inserted, rebuilt = floor_insert(floor_url, path)
        facts["floor_indexes_rebuilt"] = rebuilt
        if inserted != rows:
            raise SystemExit(f"the floor inserted {inserted:,} rows, not {rows:,}")
        drop_sqlite(floor_url)
        legs["floor"] = {
            "label": "floor: sqlite3 executemany, one txn, "
            + (f"{rebuilt} indexes rebuilt" if rebuilt else "indexes kept"),
            "seconds": floor.seconds,
            "cpu_seconds": floor.cpu_seconds,
        }

        say("import_file -> SQLite, then again ...")
        url = fresh_sqlite(folder, "import.db", sqlite_url)
        legs["sqlite"] = {
            "label": "import_file -> SQLite, fresh store",
            **_checked(import_once(url, path), rows, again=False),
        }
        legs["reimport"] = {
            "label": "import_file -> SQLite, re-import (all present)",
            **_checked(import_once(url, path), rows, again=True),
        }
        if sqlite_url:  # the caller's file: keep it
            get_engine(url).dispose()
        else:
            drop_sqlite(url)

        with fresh_postgres(postgres_server) as pg_url:
            if pg_url:
                say("import_file -> PostgreSQL, then again ...")
                legs["pg"] = {
                    "label": "import_file -> PostgreSQL, fresh database",
                    **_checked(import_once(pg_url, path), rows, again=False),
                }
                legs["pg_reimport"] = {
                    "label": "import_file -> PostgreSQL, re-import (all present)",
                    **_checked(import_once(pg_url, path), rows, again=True),
                }

        say("import_file -> SQLite in a process of its own (peak memory) ...")
        child_url = fresh_sqlite(folder, "child.db")
        get_engine(child_url).dispose()
        (child, child_again), child_peak = in_child(import_twice, child_url, path)
        legs["child_sqlite"] = {
            "label": "own process: import_file -> SQLite, fresh",
            **_checked(child, rows, again=False),
            "peak_rss_mb": child_peak,
        }
        legs["child_reimport"] = {
            "label": "own process: import_file -> SQLite, re-import",
            **_checked(child_again, rows, again=True),
            "peak_rss_mb": child_peak,
        }
        drop_sqlite(child_url)
    return facts, legs


def _verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def main(argv: list[str] | None = None) -> None:
    args = parse_args("Import benchmark: moderation rows (JSONL) into SQLite and PostgreSQL", DEFAULT_SCALE, argv)
    rows, before = args.scale, machine()
    facts, legs = run(rows, args.database_url)
    after = machine()
    for leg in legs.values():
        leg["rows_per_s"] = per_second(rows, leg["seconds"])
        leg["cpu_rows_per_s"] = per_second(rows, leg["cpu_seconds"])
    floor_rate = legs["floor"]["rows_per_s"]
    for leg in legs.values():
        leg["ratio_to_floor"] = round(leg["rows_per_s"] / floor_rate, 3) if floor_rate else None
    rate, peak = legs["sqlite"]["rows_per_s"], legs["child_sqlite"]["peak_rss_mb"]
    meets = rate >= TARGET_ROWS_PER_S and peak <= TARGET_PEAK_RSS_MB

    print(
        f"Import benchmark: {rows:,} moderation rows, JSONL {facts['file_mb']:,.1f} MB; {before['cpus']} cores, "
        f"Python {before['python']}, SQLite {before['sqlite']}; load average {before['load_average_1m']} at the "
        f"start, {after['load_average_1m']} at the end"
    )
    print_table(
        ["leg", "seconds", "rows/s", "x floor", "CPU s", "rows/CPU s", "peak RSS MB"],
        [
            [
                leg["label"],
                leg["seconds"],
                leg["rows_per_s"],
                leg["ratio_to_floor"],
                leg["cpu_seconds"],
                leg["cpu_rows_per_s"],
                leg.get("peak_rss_mb"),
            ]
            for leg in legs.values()
        ],
    )
    if "pg" in legs:
        print("(PostgreSQL legs: CPU s is this process only; the server's work is not in it)")
    print(
        f"targets: >= {TARGET_ROWS_PER_S:,} rows/s on SQLite: {rate:,} ({_verdict(rate >= TARGET_ROWS_PER_S)}); "
        f"peak RSS <= {TARGET_PEAK_RSS_MB:,} MB: {peak:,.0f} MB ({_verdict(peak <= TARGET_PEAK_RSS_MB)})"
    )
    print(f"this process (generator, floor, in-process legs): peak RSS {peak_rss_mb():,.0f} MB")

    figures: dict[str, Any] = {"rows": rows, **facts}
    for key, leg in legs.items():
        figures[f"{key}_seconds"] = round(leg["seconds"], 2)
        figures[f"{key}_cpu_seconds"] = round(leg["cpu_seconds"], 2)
        figures[f"{key}_rows_per_s"] = leg["rows_per_s"]
        if key != "floor":
            figures[f"{key}_ratio_to_floor"] = leg["ratio_to_floor"]
    for key in ("pg", "pg_reimport"):
        if key not in legs:
            figures[f"{key}_rows_per_s"] = None  # skipped: PostgreSQL unreachable
    finish(
        {
            **figures,
            "ratio_to_floor": legs["sqlite"]["ratio_to_floor"],
            "peak_rss_mb": round(peak, 1),
            "process_peak_rss_mb": round(peak_rss_mb(), 1),
            "target_rows_per_s": TARGET_ROWS_PER_S,
            "target_peak_rss_mb": TARGET_PEAK_RSS_MB,
            "meets_target_rows_per_s": rate >= TARGET_ROWS_PER_S,
            "meets_target_peak_rss": peak <= TARGET_PEAK_RSS_MB,
            "meets_targets": meets,
            "checks_ok": True,  # every leg's rows were checked above (a wrong count stops the run, exit 1)
            "machine": {**before, "load_average_1m_at_end": after["load_average_1m"]},
        }
    )


if __name__ == "__main__":
    main()

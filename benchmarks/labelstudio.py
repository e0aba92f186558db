"""Label Studio files benchmark: a Label Studio export of N tasks through `import labelstudio`, and the import file of
a moderation queue of N open items (`export labelstudio`); with `--server`, the real Label Studio beside it.

    python -m benchmarks.labelstudio [--scale N] [--database-url URL] [--server]

Legs, on SQLite and on a fresh PostgreSQL database (skipped with a note if unreachable):
- import: an export of N tasks, two annotators each out of 40 (4 in 10 annotations with categories, 1 in 10 with a
  note, 1 in 20 tasks with a skipped annotation as well), into a fresh store: N items, about 2N labels, 40 users;
- again: the same file (every label present, nothing written);
- changed: the file with 1 annotation in 10 changed later in Label Studio (labels updated, one audit event each);
- import file: the store's N items put in the moderation queue, each with two classifier scores, written as a Label
  Studio import file (newest score as the prediction).
The first import also runs alone in a spawned process (SQLite), so `peak_rss_mb` is its own peak.

With `--server`, the peer, measured in the same run: Label Studio 1.23.2 as the integration tests install and start
it (tests/labelstudio_server.py: its own virtual env, a fresh data dir, a free loopback port), driven through its
SDK as a push and a pull drive it: a project with our label config, the N tasks of the SQLite store's import file
(the same N texts, with their predictions) imported in batches of `core.labelstudio.sync.IMPORT_BATCH`, then the
project exported as JSON; each timed, beside our import of the N tasks and our import file of them. Without
`--server` no peer figure is printed: a peer figure is measured in the same run or not given.

Checks (a failed one exits 1 after the JSON line): the import stored every annotation as a label, the same file
again added none, the changed file updated labels; with `--server`, Label Studio created and exported N tasks."""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from benchmarks.common import (
    Timer,
    drop_sqlite,
    finish,
    fresh_postgres,
    fresh_sqlite,
    in_child,
    machine,
    parse_args,
    per_second,
    print_table,
    say,
    split_database_url,
    temp_folder,
)
from benchmarks.imports import _text
from core.ingest import import_file
from core.labelstudio.label_config import result
from core.labelstudio.tasks import write_import_file
from core.store.db import get_engine, session_scope
from core.store.models import CATEGORIES, ModelVersion, ModerationItem, ModerationScore, WorkItem, utcnow

DEFAULT_SCALE = 100_000
ANNOTATORS = 40


def write_export(path: Path, tasks: int, changed: bool = False, seed: int = 7) -> int:
    """Stream an export of `tasks` tasks to `path`; returns the number of (not skipped) annotations."""
    rng, change = random.Random(seed), random.Random(seed + 1)  # the changed file has the same tasks
    annotations = 0
    with open(path, "w", encoding="utf-8") as out:
        out.write("[")
        for number in range(tasks):
            people = rng.sample(range(ANNOTATORS), 2)
            entries = []
            for who in people:
                label = rng.choice(("toxic", "not_toxic"))
                categories = rng.sample(CATEGORIES, 1) if label == "toxic" and rng.random() < 0.8 else []
                note = "borderline sarcasm" if rng.random() < 0.1 else ""
                updated = "2026-11-20T10:00:00Z"
                if changed and change.random() < 0.1:
                    label, updated = ("not_toxic" if label == "toxic" else "toxic"), "2026-11-21T10:00:00Z"
                    categories = [] if label == "not_toxic" else ["hate"]
                entries.append(_annotation(number * 3 + len(entries), who, result(label, categories, note), updated))
            annotations += len(entries)
            if rng.random() < 0.05:
                skipped = _annotation(number * 3 + 2, rng.randrange(ANNOTATORS), [], "2026-11-20T10:00:00Z")
                entries.append(skipped | {"was_cancelled": True})
            data = {"text": _text(rng), "item_id": f"ls-{number:08d}"}
            out.write(("," if number else "") + json.dumps({"id": number + 1, "data": data, "annotations": entries}))
        out.write("]")
    return annotations


def _annotation(annotation_id: int, who: int, labelled: list[dict[str, Any]], updated: str) -> dict[str, Any]:
    return {
        "id": annotation_id,
        "completed_by": {"id": who + 10, "email": f"annotator{who:02d}@example.com", "first_name": f"A{who}"},
        "result": labelled,
        "was_cancelled": False,
        "created_at": "2026-11-20T10:00:00Z",
        "updated_at": updated,
        "lead_time": 14.2,
    }


def _import(url: str, path: Path) -> tuple[float, float, Any]:
    with Timer() as timer:
        summary = import_file(path, "labelstudio", engine=get_engine(url))
    return timer.seconds, timer.cpu_seconds, summary


def _import_in_child(url: str, path: str) -> float:
    return _import(url, Path(path))[0]


def _queue_everything(url: str) -> None:
    """Every item into the moderation queue, with two classifier scores (the newer one is the prediction)."""
    now = utcnow()
    with session_scope(get_engine(url), write=True) as session:
        versions = []
        for name in ("clf-old", "clf-new"):
            version = ModelVersion(name=name, kind="moderation")
            session.add(version)
            session.flush()
            versions.append(version.id)
        items = session.execute(select(ModerationItem.id)).scalars().all()
        rng = random.Random(3)
        for offset, version in enumerate(versions):
            rows = []
            for item in items:
                score = round(rng.random(), 4)
                rows.append(
                    {
                        "item_id": item,
                        "model_version_id": version,
                        "score": score,
                        "predicted_label": "toxic" if score >= 0.5 else "not_toxic",
                        "categories": ["harassment"] if score >= 0.8 else [],
                        "created_at": now.replace(microsecond=offset),
                    }
                )
            session.execute(insert(ModerationScore), rows)
        session.execute(
            insert(WorkItem),
            [
                {"queue": "moderation", "subject_id": item, "subject_b_id": 0, "k": 2, "created_at": now}
                for item in items
            ],
        )


def run_legs(url: str, files: dict[str, Path], folder: Path) -> dict[str, Any]:
    say(f"  import of {files['export'].name}")
    seconds, cpu, first = _import(url, files["export"])
    say("  the same file again")
    again_seconds, again_cpu, again = _import(url, files["export"])
    say("  the file with changed annotations")
    changed_seconds, changed_cpu, changed = _import(url, files["changed"])
    say("  import file of the moderation queue")
    _queue_everything(url)
    out = folder / "tasks.json"
    with Timer() as export:
        tasks = write_import_file(get_engine(url), "moderation", out)
    return {
        "tasks": first.rows_read,
        "labels": first.added,
        "import_s": round(seconds, 2),
        "import_cpu_s": round(cpu, 2),
        "import_tasks_per_s": per_second(first.rows_read, seconds),
        "import_labels_per_s": per_second(first.added, seconds),
        "again_s": round(again_seconds, 2),
        "again_cpu_s": round(again_cpu, 2),
        "again_added": again.added,
        "changed_s": round(changed_seconds, 2),
        "changed_cpu_s": round(changed_cpu, 2),
        "changed_updated": changed.updated,
        "import_file_s": round(export.seconds, 2),
        "import_file_tasks": tasks,
        "import_file_tasks_per_s": per_second(tasks, export.seconds),
        "import_file_mb": round(out.stat().st_size / 1e6, 1),
    }


def peer_leg(tasks_file: Path, folder: Path) -> dict[str, Any]:
    """The real Label Studio: start it (untimed), then time the SDK's import of the tasks and the project's export."""
    from core.labelstudio.label_config import label_config
    from core.labelstudio.sync import IMPORT_BATCH
    from tests.labelstudio_server import VERSION, Unavailable, install, start, stop

    tasks = json.loads(tasks_file.read_text())
    data_dir = folder / "label-studio"
    data_dir.mkdir()
    try:
        with Timer() as started:
            process, server = start(install(say), data_dir, say)
    except Unavailable as error:
        raise SystemExit(f"--server: {error}") from error
    try:
        client = server.client()
        project = client.projects.create(title="benchmark", label_config=label_config("moderation"))
        created = 0
        with Timer() as imported:
            for begin in range(0, len(tasks), IMPORT_BATCH):
                answer = client.projects.import_tasks(
                    id=project.id, request=tasks[begin : begin + IMPORT_BATCH], return_task_ids=True
                )
                created += len(answer.task_ids or [])
        with Timer() as exported:
            back = json.loads(
                b"".join(
                    client.projects.exports.download_sync(id=project.id, export_type="JSON", download_all_tasks=True)
                )
            )
    finally:
        stop(process)
    return {
        "version": VERSION,
        "start_s": round(started.seconds, 1),
        "tasks": len(tasks),
        "import_tasks_created": created,
        "import_s": round(imported.seconds, 2),
        "import_tasks_per_s": per_second(created, imported.seconds),
        "export_tasks": len(back),
        "export_s": round(exported.seconds, 2),
        "export_tasks_per_s": per_second(len(back), exported.seconds),
    }


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--server",
        action="store_true",
        help="also start the real Label Studio (installed as the integration tests install it) and time its import "
        "and export of the same tasks through the SDK",
    )


def main(argv: list[str] | None = None) -> None:
    args = parse_args(__doc__.splitlines()[0], DEFAULT_SCALE, argv, _options)
    sqlite_url, postgres_server = split_database_url(args.database_url)
    figures: dict[str, Any] = {"scale": args.scale, **machine()}
    with temp_folder("labelstudio") as folder:
        say(f"writing an export of {args.scale:,} tasks")
        files = {"export": folder / "export.json", "changed": folder / "changed.json"}
        annotations = write_export(files["export"], args.scale)
        write_export(files["changed"], args.scale, changed=True)
        figures["export_mb"] = round(files["export"].stat().st_size / 1e6, 1)
        say("sqlite")
        url = fresh_sqlite(folder, url=sqlite_url)
        sqlite = run_legs(url, files, folder)
        drop_sqlite(url)
        if args.server:
            say(f"the real Label Studio: start, import {args.scale:,} tasks, export them")
            peer = peer_leg(folder / "tasks.json", folder)
        say("sqlite, the first import alone in a spawned process (peak memory)")
        child_url = fresh_sqlite(folder, "child.db")
        _, figures["peak_rss_mb"] = in_child(_import_in_child, child_url, str(files["export"]))
        drop_sqlite(child_url)
        with fresh_postgres(postgres_server) as pg_url:
            postgres = run_legs(pg_url, files, folder) if pg_url else None
    rows = [
        ("import: tasks (labels)", f"{sqlite['tasks']:,} ({sqlite['labels']:,})", _pg(postgres, "tasks")),
        ("import, s (CPU s)", f"{sqlite['import_s']} ({sqlite['import_cpu_s']})", _pg(postgres, "import_s")),
        ("import, tasks/s", sqlite["import_tasks_per_s"], _pg(postgres, "import_tasks_per_s")),
        ("import, labels/s", sqlite["import_labels_per_s"], _pg(postgres, "import_labels_per_s")),
        ("same file again, s (added)", f"{sqlite['again_s']} ({sqlite['again_added']})", _pg(postgres, "again_s")),
        (
            "changed file, s (labels updated)",
            f"{sqlite['changed_s']} ({sqlite['changed_updated']:,})",
            _pg(postgres, "changed_s"),
        ),
        (
            "import file of the queue, s (tasks)",
            f"{sqlite['import_file_s']} ({sqlite['import_file_tasks']:,})",
            _pg(postgres, "import_file_s"),
        ),
        ("import file, tasks/s", sqlite["import_file_tasks_per_s"], _pg(postgres, "import_file_tasks_per_s")),
    ]
    print(f"Label Studio files: an export of {args.scale:,} tasks ({figures['export_mb']} MB)")
    print_table(["", "SQLite", "PostgreSQL"], rows)
    print(f"peak RSS of the import alone (SQLite): {figures['peak_rss_mb']:.0f} MB")
    checks = {
        "every annotation stored as a label": all(db["labels"] == annotations for db in (sqlite, postgres) if db),
        "the same file again added nothing": all(db["again_added"] == 0 for db in (sqlite, postgres) if db),
        "the changed file updated labels": all(db["changed_updated"] > 0 for db in (sqlite, postgres) if db),
        "import file: every item a task": all(db["import_file_tasks"] == args.scale for db in (sqlite, postgres) if db),
    }
    if args.server:
        print()
        print(f"Label Studio {peer['version']}, measured in this run (started in {peer['start_s']} s, untimed):")
        print_table(
            ["", "Label Studio", "ours (SQLite)", "ours / Label Studio"],
            [
                ("import, tasks/s", peer["import_tasks_per_s"], sqlite["import_tasks_per_s"],
                 _ratio(sqlite["import_tasks_per_s"], peer["import_tasks_per_s"])),
                ("export, tasks/s", peer["export_tasks_per_s"], sqlite["import_file_tasks_per_s"],
                 _ratio(sqlite["import_file_tasks_per_s"], peer["export_tasks_per_s"])),
            ],
        )  # fmt: skip
        print(
            "(Label Studio: the SDK's import of the queue's tasks with their predictions, and its JSON export; ours: "
            "`import labelstudio` of the export with its annotations, and `export labelstudio` of the queue)"
        )
        checks["Label Studio created and exported every task"] = (
            peer["import_tasks_created"] == peer["export_tasks"] == args.scale
        )
        figures |= {f"peer_{k}": v for k, v in peer.items()}
    for name, ok in checks.items():
        print(f"check: {name}: {'PASS' if ok else 'FAILED'}")
    figures |= {f"sqlite_{k}": v for k, v in sqlite.items()}
    figures |= {f"postgres_{k}": v for k, v in (postgres or {}).items()}
    finish(figures | {"annotations": annotations, "peer_measured": args.server, "checks_ok": all(checks.values())})


def _ratio(ours: int, theirs: int) -> float | None:
    return round(ours / theirs, 1) if theirs else None


def _pg(postgres: dict[str, Any] | None, key: str) -> Any:
    return "-" if postgres is None else postgres[key]


if __name__ == "__main__":
    main()

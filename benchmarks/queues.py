"""Queue benchmark: next item and submissions on a store of N chatbot answers, N/5 of them pending comparison pairs.

    python -m benchmarks.queues [--scale N] [--database-url URL]

Per database (SQLite in a temporary folder; PostgreSQL as a fresh database, dropped afterwards, skipped with a note
if the server is unreachable), in this order on the same store:

- build (`benchmarks/queue_store.py`): 10 experts and an admin, two chatbot versions, N*4/5 prompts and N answers
  by bulk Core inserts (executemany in batches, not the importers); every fourth prompt is answered by both versions
  (N/5 pairs), the others by one. After the load and after the sync the store is settled as the database would
  soon do by itself (SQLite: a WAL checkpoint; PostgreSQL: VACUUM ANALYZE), untimed;
- sync: `core.review.settings.configure(comparison, both versions, k=2)`, which builds the N/5 work items;
- floor: the same store and table through the bare driver (`sqlite3`, `psycopg`): one transaction (BEGIN IMMEDIATE
  on SQLite) with one SELECT of the next open item by the `ix_work_item_next` order (FOR UPDATE SKIP LOCKED on
  PostgreSQL, as the queue locks) and one UPDATE closing it;
- next item: one reviewer takes and answers items one after another through what the compare page calls:
  `core.review.service.next_item` (the lease and the two answers' texts in one write transaction) and
  `core.review.service.compare` (`submit_comparison` in another), both timed apart. They are the first reviewer on every
  item (k = 2), so the items they answered stay open: their search starts at their cursor (core.review.cursors), past
  them, and the p50 over the first and the last tenth of calls shows whether it stays flat;
- one writer: the first reviewer's wall clock over those cycles gives submissions per second (each one after its
  next item, with its texts), the figure the target is judged on, and the sum of its submit times the write path
  alone; a second reviewer then does the same (the second place of the first reviewer's items, then fresh ones),
  reported beside it (the items it takes first have one judgment already);
- eight writers: eight spawned processes, a reviewer each, answer a fixed number of items at once;
- check: comparisons stored = submissions made = assignments done = judgments counted on the items, no item over k.

Targets (the issue): next item p95 <= 5 ms on SQLite, >= 2,000 submissions/s with one writer (the first reviewer's
full cycle). A failed check exits 1 after the JSON line."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
from time import perf_counter, process_time
from typing import Any

import psycopg
from sqlalchemy import Engine, func, make_url, select

from benchmarks.common import (
    Timer,
    drop_sqlite,
    finish,
    fresh_postgres,
    fresh_sqlite,
    machine,
    own_peak_rss_mb,
    parse_args,
    peak_rss_mb,
    per_second,
    percentile,
    print_table,
    say,
    split_database_url,
    temp_folder,
)
from benchmarks.queue_store import K, build_store
from core.auth import UserPublic
from core.review.judgments import ComparisonIn
from core.review.service import compare, next_item
from core.store.db import get_engine, session_scope
from core.store.models import Assignment, AuditEvent, Comparison, WorkItem

DEFAULT_SCALE = 1_000_000
TARGET_NEXT_P95_MS = 5.0
TARGET_SUBMIT_PER_S = 2_000
CALLS = 2_000  # timed calls per leg (fewer on a small store)
WRITERS = 8
CYCLES_PER_WRITER = 500  # next + submit cycles per concurrent writer (fewer on a small store)
WRITER_SECONDS_CAP = 300.0  # a writer stops after this long even if its cycles are not done
WARMUP = 20  # untimed cycles before a timed leg (connections, statement caches)
CHOICE = ComparisonIn(preferred="left", strength="clear")
# --- the floor ------------------------------------------------------------------------------------------------------

FLOOR_SELECT = (
    "SELECT id FROM work_item WHERE queue = 'comparison' AND open = {true} AND is_gold = {false} "
    "ORDER BY priority DESC, id LIMIT 1"
)
FLOOR_UPDATE = "UPDATE work_item SET open = {false} WHERE id = {param}"


def floor_sqlite(url: str, calls: int) -> list[float]:
    """Per call (ms): BEGIN IMMEDIATE, the next open item by the index's order, close it, COMMIT (same PRAGMAs as
    the store's engine). Closing leaves `done` alone, so the check's counts are not disturbed."""
    db = sqlite3.connect(make_url(url).database, isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "busy_timeout=30000"):
        db.execute(f"PRAGMA {pragma}")
    select_next = FLOOR_SELECT.format(true=1, false=0)
    plan = " ".join(row[-1] for row in db.execute(f"EXPLAIN QUERY PLAN {select_next}"))
    if "ix_work_item_next" not in plan or "TEMP B-TREE" in plan:
        raise SystemExit(f"the floor's select does not follow ix_work_item_next: {plan}")
    update = FLOOR_UPDATE.format(false=0, param="?")
    times = []
    for n in range(WARMUP + calls):
        start = perf_counter()
        db.execute("BEGIN IMMEDIATE")
        (item_id,) = db.execute(select_next).fetchone()
        db.execute(update, (item_id,))
        db.execute("COMMIT")
        if n >= WARMUP:
            times.append((perf_counter() - start) * 1000)
    db.close()
    return times


def floor_postgres(url: str, calls: int) -> list[float]:
    """Per call (ms): one transaction, the next open item by the index's order locked as the queue locks it (FOR
    UPDATE SKIP LOCKED), closed, committed; psycopg with its defaults (statements prepared after 5 uses)."""
    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    select_next = FLOOR_SELECT.format(true="true", false="false") + " FOR UPDATE SKIP LOCKED"
    update = FLOOR_UPDATE.format(false="false", param="%s")
    times = []
    with psycopg.connect(conninfo, autocommit=True) as db:
        plan = " ".join(row[0] for row in db.execute(f"EXPLAIN {select_next}"))
        if "ix_work_item_next" not in plan or "Sort" in plan:
            raise SystemExit(f"the floor's select does not follow ix_work_item_next: {plan}")
        for n in range(WARMUP + calls):
            start = perf_counter()
            with db.transaction():
                (item_id,) = db.execute(select_next).fetchone()
                db.execute(update, (item_id,))
            if n >= WARMUP:
                times.append((perf_counter() - start) * 1000)
    return times


# --- our code paths -------------------------------------------------------------------------------------------------


def expert(user_id: int) -> UserPublic:
    """The benchmark's expert of this id, as the review service takes its acting user."""
    return UserPublic(user_id, f"expert-{user_id}", "", "expert", True)


def review(engine: Engine, user_id: int, cycles: int) -> dict[str, Any]:
    """`cycles` times: the next item with its texts in one write transaction, its submission in another (ms each),
    as the compare page does; stops early if the queue has nothing left for this reviewer. Also this process's CPU
    time in each (on a busy machine wall times wait for a core; CPU time shows what the code itself costs)."""
    next_ms, submit_ms, next_cpu, submit_cpu = [], [], 0.0, 0.0
    who = expert(user_id)
    with Timer() as wall:
        for _ in range(cycles):
            start, cpu_start = perf_counter(), process_time()
            view = next_item(actor=who, queue="comparison", engine=engine)
            taken, cpu_taken = perf_counter(), process_time()
            if view is None:
                break
            compare(actor=who, assignment_id=view.assignment_id, comparison=CHOICE, engine=engine)
            next_ms.append((taken - start) * 1000)
            submit_ms.append((perf_counter() - taken) * 1000)
            next_cpu += cpu_taken - cpu_start
            submit_cpu += process_time() - cpu_taken
    done = len(submit_ms)
    return {
        "next_ms": next_ms,
        "submit_ms": submit_ms,
        "next_cpu_ms": next_cpu * 1000 / max(done, 1),
        "submit_cpu_ms": submit_cpu * 1000 / max(done, 1),
        "seconds": wall.seconds,
        "submitted": done,
    }


def _writer(url: str, user_id: int, cycles: int, barrier: Any, results: Any) -> None:
    """One of the concurrent writers (a spawned process): next + submit cycles until done, time-capped."""
    engine = get_engine(url)
    with session_scope(engine) as s:  # connect before the clock starts
        s.execute(select(1))
    submitted, errors, first_error, cycle_ms = 0, 0, None, []
    who = expert(user_id)
    barrier.wait()
    start = perf_counter()
    while submitted + errors < cycles and perf_counter() - start < WRITER_SECONDS_CAP:
        began = perf_counter()
        try:
            view = next_item(actor=who, queue="comparison", engine=engine)
            if view is None:
                break
            compare(actor=who, assignment_id=view.assignment_id, comparison=CHOICE, engine=engine)
            submitted += 1
        except Exception as error:  # counted and reported: the leg requires none
            errors += 1
            first_error = first_error or f"{type(error).__name__}: {error}"
        cycle_ms.append((perf_counter() - began) * 1000)
    end = perf_counter()
    engine.dispose()
    results.put(
        {
            "user_id": user_id,
            "submitted": submitted,
            "errors": errors,
            "first_error": first_error,
            "start": start,
            "end": end,
            "cycle_ms": cycle_ms,
            "peak_rss_mb": own_peak_rss_mb(),
        }
    )


def concurrent_writers(url: str, user_ids: list[int], cycles: int) -> dict[str, Any]:
    """The writers in spawned processes, started together; wall clock from the first start to the last end
    (perf_counter is the system-wide monotonic clock on Linux, so the processes' readings compare)."""
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(len(user_ids)), context.Queue()
    workers = [context.Process(target=_writer, args=(url, u, cycles, barrier, results)) for u in user_ids]
    for worker in workers:
        worker.start()
    reports = [results.get(timeout=WRITER_SECONDS_CAP + 120) for _ in workers]
    for worker in workers:
        worker.join()
    seconds = max(r["end"] for r in reports) - min(r["start"] for r in reports)
    cycle_ms = [ms for r in reports for ms in r["cycle_ms"]]
    return {
        "submitted": sum(r["submitted"] for r in reports),
        "errors": sum(r["errors"] for r in reports),
        "first_error": next((r["first_error"] for r in reports if r["first_error"]), None),
        "seconds": seconds,
        "cycle_ms": cycle_ms,
        "per_writer": sorted(r["submitted"] for r in reports),
        "peak_rss_mb": max(r["peak_rss_mb"] for r in reports),
    }


def check(engine: Engine, submitted: int) -> dict[str, Any]:
    """Nothing lost, nothing twice: every count of the judgments made must equal the submissions made."""
    with session_scope(engine) as s:
        counts = {
            "comparisons": s.execute(select(func.count()).where(Comparison.source == "app")).scalar_one(),
            "assignments_done": s.execute(select(func.count()).where(Assignment.status == "done")).scalar_one(),
            "counted_on_items": s.execute(select(func.coalesce(func.sum(WorkItem.done), 0))).scalar_one(),
            "audit_events": s.execute(
                select(func.count()).where(AuditEvent.action == "comparison.create")
            ).scalar_one(),
            "items_over_k": s.execute(select(func.count()).where(WorkItem.done > WorkItem.k)).scalar_one(),
        }
    ok = counts.pop("items_over_k") == 0 and set(counts.values()) == {submitted}
    return counts | {"submitted": submitted, "ok": ok}


# --- one database ---------------------------------------------------------------------------------------------------


def _warm(engine: Engine, user_id: int) -> int:
    """Untimed cycles first (connections, statement caches): the submissions they made."""
    return review(engine, user_id, WARMUP)["submitted"]


def run_database(url: str, scale: int, floor: Any) -> dict[str, Any]:
    """Every leg on one fresh store; figures in ms and per second."""
    engine = get_engine(url)
    pairs = scale // 5
    calls = max(1, min(CALLS, pairs // 5))
    per_writer = max(1, min(CYCLES_PER_WRITER, pairs // 20))
    say(f"  building {scale:,} responses, {pairs:,} pairs ...")
    store = build_store(engine, scale, experts=2 + WRITERS)
    say(f"  built in {store['build_seconds']:.1f} s, synced in {store['sync_seconds']:.1f} s; floor ...")
    floor_ms = floor(url, calls)
    first, second, *writers = store["experts"]
    say(f"  next item + submit, {calls:,} calls ...")
    warmed = _warm(engine, first)
    leg_a = review(engine, first, calls)
    say("  one writer ...")
    warmed += _warm(engine, second)
    leg_b = review(engine, second, calls)
    say(f"  {WRITERS} writers x {per_writer:,} ...")
    get_engine(url).dispose()
    many = concurrent_writers(url, writers[:WRITERS], per_writer)
    submitted = leg_a["submitted"] + leg_b["submitted"] + warmed + many["submitted"]
    verdict = check(engine, submitted)
    engine.dispose()
    if leg_a["submitted"] < calls or leg_b["submitted"] < calls:
        raise SystemExit("the queue ran dry during a timed leg: the store is too small for the legs")
    return {"store": store, "calls": calls, "floor_ms": floor_ms, "a": leg_a, "b": leg_b, "many": many,
            "per_writer": per_writer, "check": verdict}  # fmt: skip


def figures(prefix: str, run: dict[str, Any]) -> dict[str, Any]:
    """The run's numbers, flat, for the table and the JSON line."""

    def p(values: list[float], q: float) -> float:
        return round(percentile(values, q), 3)

    a, b, many, floor_ms = run["a"], run["b"], run["many"], run["floor_ms"]
    out = {
        "responses": run["store"]["responses"],
        "work_items": run["store"]["work_items"],
        "build_seconds": round(run["store"]["build_seconds"], 2),
        "sync_seconds": round(run["store"]["sync_seconds"], 2),
        "calls": run["calls"],
        "floor_p50_ms": p(floor_ms, 50),
        "floor_p95_ms": p(floor_ms, 95),
        "floor_p99_ms": p(floor_ms, 99),
        "next_item_p50_ms": p(a["next_ms"], 50),
        "next_item_p95_ms": p(a["next_ms"], 95),
        "next_item_p99_ms": p(a["next_ms"], 99),
        "submit_p50_ms": p(a["submit_ms"], 50),
        "submit_p95_ms": p(a["submit_ms"], 95),
        "submit_p99_ms": p(a["submit_ms"], 99),
        "next_item_p50_ms_first_tenth": p(a["next_ms"][: max(1, len(a["next_ms"]) // 10)], 50),
        "next_item_p50_ms_last_tenth": p(a["next_ms"][-max(1, len(a["next_ms"]) // 10) :], 50),
        "next_item_cpu_ms": round(a["next_cpu_ms"], 3),
        "submit_cpu_ms": round(a["submit_cpu_ms"], 3),
        "second_next_item_p50_ms": p(b["next_ms"], 50),
        "second_next_item_p95_ms": p(b["next_ms"], 95),
        "second_submit_p50_ms": p(b["submit_ms"], 50),
        "second_submit_p95_ms": p(b["submit_ms"], 95),
        "second_next_item_cpu_ms": round(b["next_cpu_ms"], 3),
        "second_submit_cpu_ms": round(b["submit_cpu_ms"], 3),
        "submit_per_s_1_writer": per_second(a["submitted"], a["seconds"]),
        "submit_only_per_s_1_writer": per_second(a["submitted"], sum(a["submit_ms"]) / 1000),
        "second_submit_per_s_1_writer": per_second(b["submitted"], b["seconds"]),
        "second_submit_only_per_s_1_writer": per_second(b["submitted"], sum(b["submit_ms"]) / 1000),
        "submit_per_s_8_writers": per_second(many["submitted"], many["seconds"]),
        "cycle_p50_ms_8_writers": p(many["cycle_ms"], 50) if many["cycle_ms"] else None,
        "cycle_p95_ms_8_writers": p(many["cycle_ms"], 95) if many["cycle_ms"] else None,
        "cycle_p99_ms_8_writers": p(many["cycle_ms"], 99) if many["cycle_ms"] else None,
        "submitted_8_writers": many["submitted"],
        "errors": many["errors"],
        "first_error": many["first_error"],
        "stored_comparisons": run["check"]["comparisons"],
        "submitted": run["check"]["submitted"],
        "check_ok": run["check"]["ok"],
        "writers_peak_rss_mb": round(many["peak_rss_mb"], 1),
    }
    out["next_item_ratio"] = round(out["next_item_p95_ms"] / out["floor_p95_ms"], 2)
    out["next_item_ratio_p50"] = round(out["next_item_p50_ms"] / out["floor_p50_ms"], 2)
    return {f"{prefix}_{name}": value for name, value in out.items()}


def table_rows(prefix: str, f: dict[str, Any]) -> list[list[Any]]:
    def g(name: str) -> Any:
        return f[f"{prefix}_{name}"]

    floor_p95 = g("floor_p95_ms")
    calls = g("calls")
    return [
        [f"{prefix}: floor, raw SQL select + update, 1 txn", calls, g("floor_p50_ms"), floor_p95, g("floor_p99_ms"),
         None, None, 1.0],
        [f"{prefix}: next item + texts, 1st reviewer", calls, g("next_item_p50_ms"), g("next_item_p95_ms"),
         g("next_item_p99_ms"), g("next_item_cpu_ms"), None, g("next_item_ratio")],
        [f"{prefix}: submit (compare), 1st reviewer", calls, g("submit_p50_ms"), g("submit_p95_ms"),
         g("submit_p99_ms"), g("submit_cpu_ms"), None, None],
        [f"{prefix}: next item + texts, 2nd reviewer", calls, g("second_next_item_p50_ms"),
         g("second_next_item_p95_ms"),
         None, g("second_next_item_cpu_ms"), None, round(g("second_next_item_p95_ms") / floor_p95, 2)],
        [f"{prefix}: 1 writer, next + submit, 1st reviewer (judged)", calls, None, None, None, None,
         g("submit_per_s_1_writer"), None],
        [f"{prefix}: 1 writer, submit only, 1st reviewer (sum of its times)", calls, g("submit_p50_ms"),
         g("submit_p95_ms"), None, g("submit_cpu_ms"), g("submit_only_per_s_1_writer"), None],
        [f"{prefix}: 1 writer, next + submit, 2nd reviewer", calls, None, None, None, None,
         g("second_submit_per_s_1_writer"), None],
        [f"{prefix}: 1 writer, submit only, 2nd reviewer (sum of its times)", calls, g("second_submit_p50_ms"),
         g("second_submit_p95_ms"), None, g("second_submit_cpu_ms"), g("second_submit_only_per_s_1_writer"), None],
        [f"{prefix}: {WRITERS} writers, next + submit (per cycle)", g("submitted_8_writers"),
         g("cycle_p50_ms_8_writers"), g("cycle_p95_ms_8_writers"), g("cycle_p99_ms_8_writers"), None,
         g("submit_per_s_8_writers"), None],
    ]  # fmt: skip


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def main(argv: list[str] | None = None) -> None:
    args = parse_args("Queue benchmark: next item and submissions on SQLite and PostgreSQL", DEFAULT_SCALE, argv)
    sqlite_url, postgres_server = split_database_url(args.database_url)
    scale = args.scale
    if scale < 500:
        raise SystemExit("--scale must be at least 500 (100 pairs) for the legs to have items to take")
    out: dict[str, Any] = {"scale": scale, "pairs": scale // 5, "load_average_at_start": _load()}
    with temp_folder("queues") as folder:
        say("SQLite ...")
        url = fresh_sqlite(folder, "queues.db", sqlite_url)
        out |= figures("sqlite", run_database(url, scale, floor_sqlite))
        if sqlite_url:  # the caller's file: keep it
            get_engine(url).dispose()
        else:
            drop_sqlite(url)
    with fresh_postgres(postgres_server) as pg_url:
        if pg_url:
            say("PostgreSQL ...")
            out |= figures("postgres", run_database(pg_url, scale, floor_postgres))

    dbs = [db for db in ("sqlite", "postgres") if f"{db}_calls" in out]
    print(
        f"Queue benchmark: {scale:,} responses, {scale // 5:,} pending comparison pairs (k = {K}); "
        f"{machine()['cpus']} cores, Python {machine()['python']}, SQLite {machine()['sqlite']}"
    )
    print_table(
        ["store", "responses", "work items", "build s", "sync s"],
        [[db, out[f"{db}_responses"], out[f"{db}_work_items"], out[f"{db}_build_seconds"], out[f"{db}_sync_seconds"]]
         for db in dbs],
    )  # fmt: skip
    print()
    print_table(
        ["leg", "calls", "p50 ms", "p95 ms", "p99 ms", "CPU ms", "per s", "p95 x floor"],
        [row for db in dbs for row in table_rows(db, out)],
    )
    print()
    for db in dbs:
        ok = out[f"{db}_check_ok"]
        print(
            f"{db}: {out[f'{db}_submitted']:,} submissions, {out[f'{db}_stored_comparisons']:,} comparisons stored, "
            f"{out[f'{db}_errors']} errors in {WRITERS} writers{'' if ok else ': CHECK FAILED'}"
            + (f" (first: {out[f'{db}_first_error']})" if out[f"{db}_first_error"] else "")
        )
        print(
            f"{db}: the 1st reviewer's next_item, ahead of every 2nd judgment (flat when the two agree): "
            f"p50 {out[f'{db}_next_item_p50_ms_first_tenth']} ms over its first tenth of calls, "
            f"{out[f'{db}_next_item_p50_ms_last_tenth']} ms over its last"
        )
    next_ok = out["sqlite_next_item_p95_ms"] <= TARGET_NEXT_P95_MS
    submit_ok = out["sqlite_submit_per_s_1_writer"] >= TARGET_SUBMIT_PER_S
    submit_only_ok = out["sqlite_submit_only_per_s_1_writer"] >= TARGET_SUBMIT_PER_S
    print(
        f"targets on SQLite: next item p95 <= {TARGET_NEXT_P95_MS} ms: {out['sqlite_next_item_p95_ms']} ms "
        f"({'met' if next_ok else 'MISSED'}); >= {TARGET_SUBMIT_PER_S:,} submissions/s with one writer, judged on "
        f"the 1st reviewer's full cycle (next item with its texts, then submit): "
        f"{out['sqlite_submit_per_s_1_writer']:,}/s ({'met' if submit_ok else 'MISSED'}); beside it, the 2nd "
        f"reviewer's cycle {out['sqlite_second_submit_per_s_1_writer']:,}/s (not judged); the 1st reviewer's "
        f"submit alone {out['sqlite_submit_only_per_s_1_writer']:,}/s "
        f"({'met' if submit_only_ok else 'MISSED'} for the write path alone)"
    )
    out["load_average_at_end"] = _load()
    print(
        f"this process: peak RSS {peak_rss_mb():,.0f} MB; 1-minute load average {out['load_average_at_start']} "
        f"at the start, {out['load_average_at_end']} at the end (other work on the machine skews the figures)"
    )
    checks_ok = all(out[f"{db}_check_ok"] and out[f"{db}_errors"] == 0 for db in dbs)
    finish(
        out
        | {
            "peak_rss_mb": round(peak_rss_mb(), 1),
            "target_next_item_p95_ms": TARGET_NEXT_P95_MS,
            "target_submit_per_s": TARGET_SUBMIT_PER_S,
            "meets_target_next_item": next_ok,
            "meets_target_submit": submit_ok,
            "target_submit_judged_on": "first reviewer: next item with texts, then submit",
            "meets_target_submit_only": submit_only_ok,
            "checks_ok": checks_ok,
            "machine": machine(),
        }
    )


if __name__ == "__main__":
    main()

"""The dashboards' part of the report benchmark (`python -m benchmarks.reports`): the KPI dashboard, the audit
trail and the agreement report on a store of N judgments (default 1,000,000).

Per database (SQLite in a temporary folder; PostgreSQL as a fresh database, dropped afterwards, skipped with a note
if unreachable), on a store built by benchmarks.dashboard_store (a year of judgments, work items, assignments and
audit events), settled afterwards as the database would soon do by itself (SQLite: WAL checkpoint and ANALYZE;
PostgreSQL: VACUUM ANALYZE), untimed:

- KPI cold: `core.reports.kpi.report.kpi_report` for the dashboard's default range (the last 30 days), timed in a
  freshly
  spawned process (new connection, empty database cache of its own) after its imports; its peak RSS;
- KPI recomputed: the same call again in this process (the database's pages now cached), p50 of 3; and for the
  whole year once;
- loop latency: `core.reports.kpi.latency.loop_latency` alone over the whole year (every version of the store: the
  moderation retrains and the monthly reward runs, each over the judgments it learnt from first), p50 of 3;
- KPI page: `pages/kpi.py` run by Streamlit's AppTest as a product owner: cold, its first run in a freshly spawned
  process that has run nothing else (its imports, connection, queries and charts: what the first visitor after a
  start waits for); then in this process, after an untimed first run, recomputed (report cache cleared: the page
  computes and draws) and warm (the report from st.cache_data: the page only draws), p50 of 5 each;
- trail: the first page of the audit trail (50 events, newest first), unfiltered and filtered by person, by action
  and by entity, and the page 200 pages deep (by its keyset cursor), p50 / p95 of 30 calls each; the first page also
  cold in a spawned process; as a baseline, the same deep page by OFFSET;
- agreement: `core.reports.audit.agreement.agreement_report` over the page's default range (the last 90 days) and
  over all time: cold in a freshly spawned process (after its imports and connection), with its CPU time and peak
  RSS, then recomputed in this process (p50 of 3).

Every "cold" figure comes from a fresh process timing its first call, never from a process that warmed up.

Targets (the issues): KPI dashboard cold <= 1.5 s (the page's first run in a fresh process) and warm <= 200 ms;
audit trail first page <= 300 ms; the agreement report cold <= 1.5 s; memory <= 1 GB. Checks: every database's
store holds judgments, and the KPI report and the agreement report (where their legs ran) counted some; a failed
check exits 1 after the JSON line.

Run alone (`python -m benchmarks.dashboards [--scale N] [--database-url URL] [--store FILE] [--legs ...]`), the
store can be kept in a file and reused by later runs: a million judgments take 90 to 150 s to build on SQLite."""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from datetime import timedelta
from pathlib import Path
from time import perf_counter
from typing import Any

from sqlalchemy import Engine, func, select

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
    percentile,
    print_table,
    say,
    settle,
    split_database_url,
    temp_folder,
)
from benchmarks.dashboard_store import build_dashboard_store
from core.oversight.trail import Cursor, TrailFilter, trail_page
from core.reports.audit.agreement import agreement_report
from core.reports.kpi.latency import loop_latency
from core.reports.kpi.report import default_range, kpi_report
from core.store.db import get_engine, session_scope
from core.store.models import Adjudication, AuditEvent, Comparison, ModerationLabel, Rating, User

DEFAULT_SCALE = 1_000_000
TARGETS = {
    "kpi_cold_s": 1.5,
    "kpi_warm_ms": 200,
    "trail_first_page_ms": 300,
    "agreement_cold_s": 1.5,
    "memory_mb": 1024,
}
LEGS = ("kpi", "trail", "agreement")
AGREEMENT_RANGES = (("agreement_90_days", 90), ("agreement", None))  # the page's default, and all time
TRAIL_CALLS, DEEP_PAGES = 30, 200


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def _cold_kpi(url: str) -> tuple[float, float]:
    """In a fresh process: seconds (wall, CPU) for the default range's report, after the imports and the
    connection (on SQLite the queries run in this process, so its CPU time is their cost without the machine's
    other work)."""
    engine = get_engine(url)
    with session_scope(engine) as s:
        s.execute(select(1))
    start, end = default_range()
    with Timer() as t, session_scope(engine) as s:
        kpi_report(s, start=start, end=end)
    return t.seconds, t.cpu_seconds


def _cold_trail(url: str) -> float:
    engine = get_engine(url)
    with session_scope(engine) as s:
        s.execute(select(1))
    with Timer() as t, session_scope(engine) as s:
        trail_page(s)
    return t.seconds


def kpi_legs(url: str) -> dict[str, Any]:
    engine = get_engine(url)
    (cold, cold_cpu), child_rss = in_child(_cold_kpi, url)
    start, end = default_range()
    recomputed, recomputed_cpu = [], []
    for _ in range(3):
        with Timer() as t, session_scope(engine) as s:
            report = kpi_report(s, start=start, end=end)
        recomputed.append(t.seconds)
        recomputed_cpu.append(t.cpu_seconds)
    with Timer() as year, session_scope(engine) as s:
        kpi_report(s, start=end - timedelta(days=366), end=end)
    loop_times = []
    for _ in range(3):
        with Timer() as t, session_scope(engine) as s:
            versions = loop_latency(s, end - timedelta(days=366), end)
        loop_times.append(t.seconds)
    page = kpi_page(url)
    return {
        "kpi_cold_s": round(cold, 3),
        "kpi_cold_cpu_s": round(cold_cpu, 3),
        "kpi_cold_peak_rss_mb": round(child_rss, 1),
        "kpi_recomputed_ms": _ms(statistics.median(recomputed)),
        "kpi_recomputed_cpu_ms": _ms(statistics.median(recomputed_cpu)),
        "kpi_year_s": round(year.seconds, 3),
        "kpi_judgments_in_range": report.judgments,
        "loop_latency_year_ms": _ms(statistics.median(loop_times)),
        "loop_latency_versions": len(versions),
        "loop_latency_judgments": sum(v.judgments for v in versions),
        **page,
    }


def _kpi_app(url: str):
    """The KPI page in AppTest, as a product owner (not run yet)."""
    from streamlit.testing.v1 import AppTest

    from core.auth import UserPublic

    os.environ["DATABASE_URL"] = url
    with session_scope(get_engine(url)) as s:
        owner = s.execute(select(User.id)).scalars().first()
    path = os.path.join(os.path.dirname(__file__), "..", "pages", "kpi.py")
    at = AppTest.from_file(path, default_timeout=600)
    at.session_state["user"] = UserPublic(owner, "owner", "Owner", "product_owner", True)
    return at


def _cold_kpi_page(url: str) -> float:
    """In a fresh process that has run nothing else: seconds of the page's first run (its imports included)."""
    at = _kpi_app(url)
    started = perf_counter()
    at.run()
    seconds = perf_counter() - started
    if at.exception:
        raise SystemExit(f"the KPI page failed: {at.exception[0].message}")
    return seconds


def kpi_page(url: str) -> dict[str, Any]:
    """The page as a product owner opens it, through AppTest (server side: the script, its queries, its charts):
    cold in a spawned process, then recomputed and warm here."""
    from app.report_cache import clear

    cold, cold_rss = in_child(_cold_kpi_page, url)
    main_module = sys.modules["__main__"]  # AppTest runs the page as __main__; the spawned legs need ours back
    at = _kpi_app(url)
    at.run()  # imports (pandas, plotly) and a first computation: not what either figure here measures
    recomputed, warm = [], []
    for _ in range(5):
        clear()
        started = perf_counter()
        at.run()
        recomputed.append(perf_counter() - started)
        started = perf_counter()
        at.run()
        warm.append(perf_counter() - started)
    sys.modules["__main__"] = main_module
    if at.exception:
        raise SystemExit(f"the KPI page failed: {at.exception[0].message}")
    return {
        "kpi_page_cold_s": round(cold, 3),
        "kpi_page_cold_peak_rss_mb": round(cold_rss, 1),
        "kpi_page_recomputed_s": round(statistics.median(recomputed), 3),
        "kpi_page_warm_ms": _ms(statistics.median(warm)),
    }


def _timed(engine: Engine, filters: TrailFilter, after: Cursor | None = None) -> list[float]:
    times = []
    for _ in range(TRAIL_CALLS):
        with Timer() as t, session_scope(engine) as s:
            page = trail_page(s, filters, after=after)
        times.append(t.seconds * 1000)
        assert page.events, "the trail page came back empty"
    return times


def trail_legs(url: str) -> dict[str, Any]:
    engine = get_engine(url)
    cold, _ = in_child(_cold_trail, url)
    with session_scope(engine) as s:  # filters any store can answer: taken from an event 100 from the newest
        actor, action, entity = s.execute(
            select(User.username, AuditEvent.action, AuditEvent.entity)
            .join(User, User.id == AuditEvent.actor_id)
            .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
            .offset(100)
            .limit(1)
        ).one()
    cases = {
        "all": TrailFilter(),
        "person": TrailFilter(actor=actor),
        "action": TrailFilter(action=action),
        "entity": TrailFilter(entity=entity),
    }
    out: dict[str, Any] = {"trail_first_page_cold_ms": _ms(cold)}
    for name, filters in cases.items():
        times = _timed(engine, filters)
        out[f"trail_{name}_p50_ms"] = round(percentile(times, 50), 2)
        out[f"trail_{name}_p95_ms"] = round(percentile(times, 95), 2)
    cursor = None
    with session_scope(engine) as s:
        for _ in range(DEEP_PAGES):
            cursor = trail_page(s, after=cursor).next
    deep = _timed(engine, TrailFilter(), cursor)
    out["trail_deep_p50_ms"] = round(percentile(deep, 50), 2)
    offset = []
    for _ in range(5):
        with Timer() as t, session_scope(engine) as s:
            s.execute(
                select(AuditEvent)
                .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
                .offset(DEEP_PAGES * 50)
                .limit(50)
            ).all()
        offset.append(t.seconds * 1000)
    out["trail_deep_by_offset_p50_ms"] = round(percentile(offset, 50), 2)
    return out


def _agreement_range(days: int | None) -> tuple[Any, Any]:
    return default_range(days=days) if days else (None, None)


def _cold_agreement(url: str, days: int | None) -> tuple[float, float, int, float]:
    """In a fresh process: seconds (wall, CPU) for the agreement report, after the imports and the connection; the
    judgments it counted; and this process's own peak RSS in MB."""
    engine = get_engine(url)
    with session_scope(engine) as s:
        s.execute(select(1))
    start, end = _agreement_range(days)
    with Timer() as t, session_scope(engine) as s:
        report = agreement_report(s, start=start, end=end)
    judged = sum({d.queue: d.n_judgments for d in report.dimensions}.values())
    return t.seconds, t.cpu_seconds, judged, own_peak_rss_mb()


def agreement_legs(url: str) -> dict[str, Any]:
    """Per range: cold in a spawned process, then recomputed here (p50 of 3)."""
    engine = get_engine(url)
    out: dict[str, Any] = {}
    for name, days in AGREEMENT_RANGES:
        (cold, cold_cpu, judged, child_rss), _ = in_child(_cold_agreement, url, days)
        start, end = _agreement_range(days)
        again, again_cpu = [], []
        for _ in range(3):
            with Timer() as t, session_scope(engine) as s:
                agreement_report(s, start=start, end=end)
            again.append(t.seconds)
            again_cpu.append(t.cpu_seconds)
        out |= {
            f"{name}_cold_s": round(cold, 3),
            f"{name}_cold_cpu_s": round(cold_cpu, 3),
            f"{name}_cold_peak_rss_mb": round(child_rss, 1),
            f"{name}_s": round(statistics.median(again), 3),
            f"{name}_cpu_s": round(statistics.median(again_cpu), 3),
            f"{name}_judgments": judged,
        }
    return out


def _counted(engine: Engine) -> dict[str, int]:
    """What a kept store holds (its build's counts are not kept)."""
    with session_scope(engine) as s:
        counts = {
            name: s.execute(select(func.count()).select_from(model)).scalar_one()
            for name, model in (
                ("ratings", Rating),
                ("comparisons", Comparison),
                ("labels", ModerationLabel),
                ("adjudications", Adjudication),
            )
        }
    return counts | {"judgments": sum(counts.values())}


def run_database(url: str, scale: int, legs: tuple[str, ...] = LEGS, *, built: bool = False) -> dict[str, Any]:
    """Build the store at `url` (unless `built`: a kept store, used as it is), then run the legs."""
    engine = get_engine(url)
    if built:
        say("  using the kept store (built by an earlier run) ...")
        out: dict[str, Any] = {"build_s": None, **_counted(engine)}
    else:
        say(f"  building {scale:,} judgments ...")
        with Timer() as t:
            counts = build_dashboard_store(engine, judgments=scale, progress=say)
        settle(engine)
        say(f"  built in {t.seconds:.0f} s")
        out = {"build_s": round(t.seconds, 1), **counts}
    out |= run_legs(url, legs)
    engine.dispose()
    return out


def run_legs(url: str, legs: tuple[str, ...] = LEGS) -> dict[str, Any]:
    """The chosen legs on a built, settled store (any store with judgments and audit events: also a shared one)."""
    out: dict[str, Any] = {}
    for leg, fn in (("kpi", kpi_legs), ("trail", trail_legs), ("agreement", agreement_legs)):
        if leg in legs:
            say(f"  {leg} legs ...")
            out |= fn(url)
    return out


def rows(db: str, f: dict[str, Any]) -> list[list[Any]]:
    """The table's rows of the legs that ran."""

    def g(name: str) -> Any:
        return f[f"{db}_{name}"]

    out = []
    if f"{db}_kpi_cold_s" in f:
        out += [
            [db, "KPI report, default 30 days, cold (fresh process)", g("kpi_cold_s") * 1000,
             TARGETS["kpi_cold_s"] * 1000],
            [db, "... its CPU time (this process)", g("kpi_cold_cpu_s") * 1000, None],
            [db, "KPI report, recomputed (database cache warm), p50", g("kpi_recomputed_ms"), None],
            [db, "... its CPU time (this process)", g("kpi_recomputed_cpu_ms"), None],
            [db, "KPI report, whole year", g("kpi_year_s") * 1000, None],
            [db, f"loop latency per version alone, whole year ({g('loop_latency_versions')} versions, "
             f"{g('loop_latency_judgments'):,} judgments), p50", g("loop_latency_year_ms"), None],
            [db, "KPI page, cold: first run in a fresh process (AppTest)", g("kpi_page_cold_s") * 1000,
             TARGETS["kpi_cold_s"] * 1000],
            [db, "KPI page, report cache cleared, warm process (AppTest), p50", g("kpi_page_recomputed_s") * 1000,
             None],
            [db, "KPI page, report cached (AppTest), p50", g("kpi_page_warm_ms"), TARGETS["kpi_warm_ms"]],
        ]  # fmt: skip
    if f"{db}_trail_first_page_cold_ms" in f:
        out += [
            [db, "trail first page, cold (fresh process)", g("trail_first_page_cold_ms"),
             TARGETS["trail_first_page_ms"]],
            [db, "trail first page, p50 / p95", f"{g('trail_all_p50_ms')} / {g('trail_all_p95_ms')}", 300],
            [db, "trail by person, p50 / p95", f"{g('trail_person_p50_ms')} / {g('trail_person_p95_ms')}", 300],
            [db, "trail by action, p50 / p95", f"{g('trail_action_p50_ms')} / {g('trail_action_p95_ms')}", 300],
            [db, "trail by entity, p50 / p95", f"{g('trail_entity_p50_ms')} / {g('trail_entity_p95_ms')}", 300],
            [db, f"trail page {DEEP_PAGES} deep: keyset / OFFSET, p50",
             f"{g('trail_deep_p50_ms')} / {g('trail_deep_by_offset_p50_ms')}", None],
        ]  # fmt: skip
    for name, label in (("agreement_90_days", "last 90 days (the page's default)"), ("agreement", "all time")):
        if f"{db}_{name}_s" in f:
            out += [
                [db, f"agreement report, {label}, cold (fresh process)", g(f"{name}_cold_s") * 1000,
                 TARGETS["agreement_cold_s"] * 1000],
                [db, "... its CPU time (that process)", g(f"{name}_cold_cpu_s") * 1000, None],
                [db, "... recomputed (database cache warm), p50 of 3", g(f"{name}_s") * 1000, None],
                [db, "... its CPU time (this process)", g(f"{name}_cpu_s") * 1000, None],
            ]  # fmt: skip
    return out


def _verdicts(db: str, out: dict[str, Any]) -> str:
    def ok(met: bool) -> str:
        return "met" if met else "MISSED"

    said = []
    if f"{db}_kpi_page_cold_s" in out:
        said.append(f"KPI page cold {ok(out[f'{db}_kpi_page_cold_s'] <= TARGETS['kpi_cold_s'])}, "
                    f"warm {ok(out[f'{db}_kpi_page_warm_ms'] <= TARGETS['kpi_warm_ms'])}")  # fmt: skip
    if f"{db}_trail_all_p95_ms" in out:
        said.append(f"trail first page {ok(out[f'{db}_trail_all_p95_ms'] <= TARGETS['trail_first_page_ms'])}")
    for name, label in (("agreement_90_days", "90 days"), ("agreement", "all time")):
        if f"{db}_{name}_cold_s" in out:
            said.append(f"agreement {label} cold {ok(out[f'{db}_{name}_cold_s'] <= TARGETS['agreement_cold_s'])}")
    return f"{db}: " + "; ".join(said)


def checks_ok(out: dict[str, Any], dbs: list[str]) -> bool:
    """The figures describe real work: judgments in every store, and in the reports of the legs that ran."""
    counted = ["judgments", "kpi_judgments_in_range", "agreement_judgments"]
    return bool(dbs) and all(out.get(f"{db}_{name}", 1) > 0 for db in dbs for name in counted)


def run(args) -> dict[str, Any]:
    """Both databases, as `benchmarks.reports` asks (its --scale and --database-url), or as this module's main
    (also --store, --legs, --sqlite-only); prints the tables, returns the figures."""
    sqlite_url, postgres_server = split_database_url(args.database_url)
    store, legs = getattr(args, "store", None), tuple(getattr(args, "legs", LEGS))
    out: dict[str, Any] = {"scale": args.scale, "load_average_at_start": round(os.getloadavg()[0], 2)}
    say("Dashboards, SQLite ...")
    if store:
        url, kept = f"sqlite:///{Path(store).resolve()}", Path(store).exists()
        if not kept:
            fresh_sqlite(Path(store).parent, url=url)
        out |= {f"sqlite_{k}": v for k, v in run_database(url, args.scale, legs, built=kept).items()}
        get_engine(url).dispose()
    else:
        with temp_folder("dashboards") as folder:
            url = fresh_sqlite(folder, "dashboards.db", sqlite_url and f"{sqlite_url}-dashboards")
            out |= {f"sqlite_{k}": v for k, v in run_database(url, args.scale, legs).items()}
            if sqlite_url:
                get_engine(url).dispose()
            else:
                drop_sqlite(url)
    if not getattr(args, "sqlite_only", False):
        with fresh_postgres(postgres_server) as pg_url:
            if pg_url:
                say("Dashboards, PostgreSQL ...")
                out |= {f"postgres_{k}": v for k, v in run_database(pg_url, args.scale, legs).items()}
    out["peak_rss_mb"] = round(peak_rss_mb(), 1)
    out["load_average_at_end"] = round(os.getloadavg()[0], 2)
    dbs = [db for db in ("sqlite", "postgres") if f"{db}_judgments" in out]
    m = machine()
    load = f"load average {out['load_average_at_start']} -> {out['load_average_at_end']}"
    print(f"Dashboards: {args.scale:,} judgments asked; {m['cpus']} cores, SQLite {m['sqlite']}; {load}")
    print_table(["store", "judgments", "build s"], [[db, out[f"{db}_judgments"], out[f"{db}_build_s"]] for db in dbs])
    print()
    print_table(["store", "leg", "ms", "target ms"], [row for db in dbs for row in rows(db, out)])
    print()
    for db in dbs:
        print(_verdicts(db, out))
    children = {
        f"{leg} {db}": out[f"{db}_{key}"]
        for db in dbs
        for leg, key in (("KPI", "kpi_cold_peak_rss_mb"), ("agreement", "agreement_cold_peak_rss_mb"))
        if f"{db}_{key}" in out
    }
    memory = max(out["peak_rss_mb"], *children.values())
    out["checks_ok"] = checks_ok(out, dbs)
    out["meets_target_memory"] = memory <= TARGETS["memory_mb"]
    print(f"peak RSS: this process {out['peak_rss_mb']} MB (store build included); in a fresh process "
          + ", ".join(f"{name} {mb} MB" for name, mb in children.items())
          + f"; memory <= 1 GB {'met' if memory <= TARGETS['memory_mb'] else 'MISSED'}")  # fmt: skip
    return out


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store",
        help="the SQLite part's store in this file: built at --scale if it does not exist, kept afterwards, and used "
        "as it is by later runs (its judgments' dates are those of its build: rebuild it after a few days)",
    )
    parser.add_argument(
        "--legs", type=lambda text: tuple(text.split(",")), default=LEGS, help=f"comma-separated, of {','.join(LEGS)}"
    )
    parser.add_argument("--sqlite-only", action="store_true", help="skip the PostgreSQL part")


def main(argv: list[str] | None = None) -> None:
    args = parse_args("Dashboard benchmark: KPIs, the audit trail, agreement", DEFAULT_SCALE, argv, _options)
    if unknown := set(args.legs) - set(LEGS):
        raise SystemExit(f"--legs: unknown {', '.join(sorted(unknown))} (of {', '.join(LEGS)})")
    finish(run(args))


if __name__ == "__main__":
    main()

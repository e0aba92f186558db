"""The dashboards' part of the report benchmark (`python -m benchmarks.reports`): the KPI dashboard and the audit
trail on a store of N judgments (default 1,000,000).

Per database (SQLite in a temporary folder; PostgreSQL as a fresh database, dropped afterwards, skipped with a note
if unreachable), on a store built by benchmarks.dashboard_store (a year of judgments, work items, assignments and
audit events), settled afterwards as the database would soon do by itself (SQLite: WAL checkpoint and ANALYZE;
PostgreSQL: VACUUM ANALYZE), untimed:

- KPI cold: `core.reports.kpi.kpi_report` for the dashboard's default range (the last 30 days), timed in a freshly
  spawned process (new connection, empty database cache of its own) after its imports; its peak RSS;
- KPI recomputed: the same call again in this process (the database's pages now cached), p50 of 3; and for the
  whole year once;
- KPI page: `pages/kpi.py` run by Streamlit's AppTest as a product owner: cold (report cache cleared: the page
  computes and draws) and warm (the report from st.cache_data: the page only draws), p50 of 5 each;
- trail: the first page of the audit trail (50 events, newest first), unfiltered and filtered by person, by action
  and by entity, and the page 200 pages deep (by its keyset cursor), p50 / p95 of 30 calls each; the first page also
  cold in a spawned process; as a baseline, the same deep page by OFFSET;
- agreement: the agreement report over the page's default 90 days, and over all time, once each (no target).

Targets (the issue): KPI dashboard cold <= 1.5 s and warm <= 200 ms; audit trail first page <= 300 ms; memory
<= 1 GB."""

from __future__ import annotations

import os
import statistics
import sys
from datetime import timedelta
from time import perf_counter
from typing import Any

from sqlalchemy import Engine, select

from benchmarks.common import (
    Timer,
    drop_sqlite,
    fresh_postgres,
    fresh_sqlite,
    in_child,
    machine,
    peak_rss_mb,
    percentile,
    print_table,
    say,
    settle,
    split_database_url,
    temp_folder,
)
from benchmarks.dashboard_store import build_dashboard_store
from core.db import get_engine, session_scope
from core.models import AuditEvent, User
from core.reports.agreement import agreement_report
from core.reports.kpi import default_range, kpi_report
from core.reports.trail import Cursor, TrailFilter, trail_page

DEFAULT_SCALE = 1_000_000
TARGETS = {"kpi_cold_s": 1.5, "kpi_warm_ms": 200, "trail_first_page_ms": 300, "memory_mb": 1024}
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
    page = kpi_page(url)
    return {
        "kpi_cold_s": round(cold, 3),
        "kpi_cold_cpu_s": round(cold_cpu, 3),
        "kpi_cold_peak_rss_mb": round(child_rss, 1),
        "kpi_recomputed_ms": _ms(statistics.median(recomputed)),
        "kpi_recomputed_cpu_ms": _ms(statistics.median(recomputed_cpu)),
        "kpi_year_s": round(year.seconds, 3),
        "kpi_judgments_in_range": report.judgments,
        **page,
    }


def kpi_page(url: str) -> dict[str, Any]:
    """The page as a product owner opens it, through AppTest (server side: the script, its queries, its charts)."""
    from streamlit.testing.v1 import AppTest

    from app.audit_reports import clear
    from core.auth import UserPublic

    os.environ["DATABASE_URL"] = url
    with session_scope(get_engine(url)) as s:
        owner = s.execute(select(User.id)).scalars().first()
    path = os.path.join(os.path.dirname(__file__), "..", "pages", "kpi.py")
    main_module = sys.modules["__main__"]  # AppTest runs the page as __main__; the spawned legs need ours back
    at = AppTest.from_file(path, default_timeout=600)
    at.session_state["user"] = UserPublic(owner, "owner", "Owner", "product_owner", True)
    at.run()  # imports (pandas, plotly) and a first computation: not what either figure measures
    cold, warm = [], []
    for _ in range(5):
        clear()
        started = perf_counter()
        at.run()
        cold.append(perf_counter() - started)
        started = perf_counter()
        at.run()
        warm.append(perf_counter() - started)
    sys.modules["__main__"] = main_module
    if at.exception:
        raise SystemExit(f"the KPI page failed: {at.exception[0].message}")
    return {"kpi_page_cold_s": round(statistics.median(cold), 3), "kpi_page_warm_ms": _ms(statistics.median(warm))}


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


def run_database(url: str, scale: int) -> dict[str, Any]:
    engine = get_engine(url)
    say(f"  building {scale:,} judgments ...")
    with Timer() as built:
        counts = build_dashboard_store(engine, judgments=scale, progress=say)
    settle(engine)
    say(f"  built in {built.seconds:.0f} s")
    out = {"build_s": round(built.seconds, 1), **counts, **run_legs(url)}
    engine.dispose()
    return out


def run_legs(url: str) -> dict[str, Any]:
    """Every leg on a built, settled store (any store with judgments and audit events: also a shared one)."""
    say("  KPI legs ...")
    out = kpi_legs(url)
    say("  trail legs ...")
    out |= trail_legs(url)
    say("  agreement ...")
    end = default_range()[1]
    for name, start in (("agreement_90_days_s", end - timedelta(days=90)), ("agreement_s", None)):
        with Timer() as t, session_scope(get_engine(url)) as s:
            agreement_report(s, start=start, end=None if start is None else end)
        out[name] = round(t.seconds, 2)
    return out


def rows(db: str, f: dict[str, Any]) -> list[list[Any]]:
    def g(name: str) -> Any:
        return f[f"{db}_{name}"]

    return [
        [db, "KPI report, default 30 days, cold (fresh process)", g("kpi_cold_s") * 1000, TARGETS["kpi_cold_s"] * 1000],
        [db, "... its CPU time (this process)", g("kpi_cold_cpu_s") * 1000, None],
        [db, "KPI report, recomputed (database cache warm), p50", g("kpi_recomputed_ms"), None],
        [db, "... its CPU time (this process)", g("kpi_recomputed_cpu_ms"), None],
        [db, "KPI report, whole year", g("kpi_year_s") * 1000, None],
        [db, "KPI page, report cache empty (AppTest), p50", g("kpi_page_cold_s") * 1000, TARGETS["kpi_cold_s"] * 1000],
        [db, "KPI page, report cached (AppTest), p50", g("kpi_page_warm_ms"), TARGETS["kpi_warm_ms"]],
        [db, "trail first page, cold (fresh process)", g("trail_first_page_cold_ms"), TARGETS["trail_first_page_ms"]],
        [db, "trail first page, p50 / p95", f"{g('trail_all_p50_ms')} / {g('trail_all_p95_ms')}", 300],
        [db, "trail by person, p50 / p95", f"{g('trail_person_p50_ms')} / {g('trail_person_p95_ms')}", 300],
        [db, "trail by action, p50 / p95", f"{g('trail_action_p50_ms')} / {g('trail_action_p95_ms')}", 300],
        [db, "trail by entity, p50 / p95", f"{g('trail_entity_p50_ms')} / {g('trail_entity_p95_ms')}", 300],
        [db, f"trail page {DEEP_PAGES} deep: keyset / OFFSET, p50",
         f"{g('trail_deep_p50_ms')} / {g('trail_deep_by_offset_p50_ms')}", None],
        [db, "agreement report, last 90 days (the page's default)", g("agreement_90_days_s") * 1000, None],
        [db, "agreement report, all time", g("agreement_s") * 1000, None],
    ]  # fmt: skip


def run(args) -> dict[str, Any]:
    """Both databases, as `benchmarks.reports` asks (its --scale and --database-url); prints the tables, returns the
    figures."""
    sqlite_url, postgres_server = split_database_url(args.database_url)
    out: dict[str, Any] = {"scale": args.scale, "load_average_at_start": round(os.getloadavg()[0], 2)}
    with temp_folder("dashboards") as folder:
        say("Dashboards, SQLite ...")
        url = fresh_sqlite(folder, "dashboards.db", sqlite_url and f"{sqlite_url}-dashboards")
        out |= {f"sqlite_{k}": v for k, v in run_database(url, args.scale).items()}
        if sqlite_url:
            get_engine(url).dispose()
        else:
            drop_sqlite(url)
    with fresh_postgres(postgres_server) as pg_url:
        if pg_url:
            say("Dashboards, PostgreSQL ...")
            out |= {f"postgres_{k}": v for k, v in run_database(pg_url, args.scale).items()}
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
        cold_ok = out[f"{db}_kpi_page_cold_s"] <= TARGETS["kpi_cold_s"]
        warm_ok = out[f"{db}_kpi_page_warm_ms"] <= TARGETS["kpi_warm_ms"]
        trail_ok = out[f"{db}_trail_all_p95_ms"] <= TARGETS["trail_first_page_ms"]
        print(f"{db}: KPI page cold {'met' if cold_ok else 'MISSED'}, warm {'met' if warm_ok else 'MISSED'}; "
              f"trail first page {'met' if trail_ok else 'MISSED'}")  # fmt: skip
    memory = max(out["peak_rss_mb"], *(out[f"{db}_kpi_cold_peak_rss_mb"] for db in dbs))
    print(f"peak RSS: this process {out['peak_rss_mb']} MB (store build included); KPI in a fresh process "
          + ", ".join(f"{db} {out[f'{db}_kpi_cold_peak_rss_mb']} MB" for db in dbs)
          + f"; memory <= 1 GB {'met' if memory <= TARGETS['memory_mb'] else 'MISSED'}")  # fmt: skip
    return out

"""Report benchmark: the A/B report with its leaderboard, and the A/B page, on a store of N comparisons and N ratings
over 20 chatbot versions (with N/10 moderation items scored by two classifiers, a tenth of them labelled).

    python -m benchmarks.reports [--scale N] [--database-url URL]

Per database (SQLite in a temporary folder; PostgreSQL as a fresh database, dropped afterwards, skipped with a note
if the server is unreachable):

- build: `benchmarks.report_store.build_report_store` (bulk Core inserts), then settled as the database soon would
  by itself (benchmarks.common.settle), untimed in the figures below;
- then every leg in LEGS runs in a spawned process of its own, whose peak RSS is the reports' own:
  - A/B report: `core.reports.ab.chatbot.chatbot_report` of the two strongest versions over all time, with the
    leaderboard
    of all 20 versions and 200 bootstrap rounds; the first call, then the median of REPEATS more; its parts apart
    (the pair's comparisons, the pair's ratings, the leaderboard's counts, the leaderboard with its bootstrap);
  - the leaderboard for one topic and for the last 30 days; the moderation A/B report (mod-v1 against mod-v2);
  - the baseline: the leaderboard's counts through two joins to `response`, as the query had to run before
    migration 0003 put the versions compared on each comparison;
  - the page: `pages/ab_report.py` through AppTest as the product owner (the server's side of a page view), in a
    process that has run nothing else: the first run (cold: computes and caches the report), then PAGE_RUNS warm
    runs (cached).

Targets (issue 6): the whole A/B report with the leaderboard and 200 bootstrap rounds <= 2 s; the page's server time
warm (cached) <= 200 ms; process memory <= 1 GB. Checks: the A/B report found the pair's comparisons and ranked
every version (and the dashboards' own checks); a failed check exits 1 after the JSON line.

Then the dashboards' part (benchmarks.dashboards, issue 7) on a store of its own: the KPI dashboard, the audit
trail and the agreement report (cold and recomputed, 90 days and all time). The last line holds both parts' figures
(the dashboards' prefixed `dashboards_`, e.g. `dashboards_sqlite_agreement_90_days_cold_s`)."""

from __future__ import annotations

import argparse
import os
import statistics
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, text

from benchmarks import dashboards
from benchmarks.common import (
    Timer,
    drop_sqlite,
    finish,
    fresh_postgres,
    fresh_sqlite,
    in_child,
    machine,
    parse_args,
    percentile,
    print_table,
    say,
    settle,
    split_database_url,
    temp_folder,
)
from benchmarks.report_store import TOPICS, build_report_store
from core.store.db import get_engine, session_scope

DEFAULT_SCALE = 1_000_000
VERSIONS = 20
SEED = 20261123
ROUNDS = 200
REPEATS = 3
PAGE_RUNS = 10
TARGET_REPORT_S = 2.0
TARGET_PAGE_WARM_MS = 200.0
TARGET_PEAK_RSS_MB = 1024
REPO_ROOT = Path(__file__).resolve().parents[1]
JOINED_COUNTS = """
SELECT ra.model_version_id, rb.model_version_id, c.choice, count(*)
FROM comparison c JOIN response ra ON ra.id = c.response_a_id JOIN response rb ON rb.id = c.response_b_id
GROUP BY ra.model_version_id, rb.model_version_id, c.choice
"""


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    with Timer() as t:
        result = fn()
    return t.seconds, result


def ab_legs(url: str, store: dict[str, Any]) -> dict[str, Any]:
    """The A/B report, its parts, the leaderboard variants, the moderation report and the joined baseline."""
    from core.reports.ab import chatbot as ab
    from core.reports.ab import leaderboard
    from core.reports.ab.moderation import moderation_report
    from core.reports.filters import Filters

    engine = get_engine(url)
    a, b = store["versions"][-2], store["versions"][-1]
    pair = Filters(a, b)
    out: dict[str, Any] = {}
    with session_scope(engine) as s:
        first, report = _timed(lambda: ab.chatbot_report(s, pair, leaderboard_rounds=ROUNDS))
        again = [_timed(lambda: ab.chatbot_report(s, pair, leaderboard_rounds=ROUNDS))[0] for _ in range(REPEATS)]
        ids = dict(s.execute(text("SELECT name, id FROM model_version")).all())
        parts = {
            "pair_comparisons": lambda: ab._comparisons(s, pair, ids[a], ids[b]),
            "pair_ratings": lambda: ab._rating_counts(s, pair, ids[a], ids[b]),
            "leaderboard_counts": lambda: leaderboard.battle_counts(s, pair),
            "leaderboard": lambda: leaderboard.leaderboard(s, pair, rounds=ROUNDS),
            "leaderboard_topic": lambda: leaderboard.leaderboard(s, Filters(a, b, topic=TOPICS[0]), rounds=ROUNDS),
            "leaderboard_30_days": lambda: leaderboard.leaderboard(
                s, Filters(a, b, since=(store["until"] - timedelta(days=30)).date()), rounds=ROUNDS
            ),
            "moderation_report": lambda: moderation_report(s, Filters("mod-v1", "mod-v2")),
            "baseline_joined_counts": lambda: s.execute(text(JOINED_COUNTS)).all(),
        }
        for name, fn in parts.items():
            out[f"{name}_s"] = round(statistics.median(_timed(fn)[0] for _ in range(REPEATS)), 3)
    out["ab_report_first_s"] = round(first, 3)
    out["ab_report_s"] = round(statistics.median(again), 3)
    out["ab_report_leaderboard_versions"] = len(report.leaderboard)
    out["ab_report_comparisons_of_pair"] = report.overall.win.decided + report.overall.ties + report.overall.both_bad
    out["ab_report_verdict"] = report.verdict[0]
    out["baseline_ratio"] = round(out["baseline_joined_counts_s"] / max(out["leaderboard_counts_s"], 1e-6), 1)
    return out


def page_legs(url: str, store: dict[str, Any]) -> dict[str, Any]:
    """The A/B page as the product owner opens it: the first run, then warm runs on the cached report."""
    from streamlit.testing.v1 import AppTest

    from core.auth import UserPublic
    from core.store.models import User

    os.environ["DATABASE_URL"] = url
    with session_scope(get_engine(url)) as s:
        owner = UserPublic.of(s.execute(select(User).where(User.role == "product_owner")).scalars().first())
    at = AppTest.from_file(str(REPO_ROOT / "app" / "main.py"), default_timeout=300)
    at.session_state["user"] = owner
    at.run()
    at.switch_page("../pages/ab_report.py")
    cold, _ = _timed(at.run)
    warm = [_timed(at.run)[0] * 1000 for _ in range(PAGE_RUNS)]
    if at.exception or not any(m.value.startswith("**Verdict**") for m in at.markdown):
        raise SystemExit(f"the A/B page did not show its report: {at.exception or [e.value for e in at.error]}")
    return {
        "page_cold_s": round(cold, 3),
        "page_warm_p50_ms": round(percentile(warm, 50), 1),
        "page_warm_p95_ms": round(percentile(warm, 95), 1),
    }


LEGS: list[Callable[[str, dict[str, Any]], dict[str, Any]]] = [ab_legs, page_legs]


def run_database(url: str, scale: int) -> dict[str, Any]:
    engine = get_engine(url)
    with Timer() as built:
        store = build_report_store(engine, comparisons=scale, ratings=scale, versions=VERSIONS, seed=SEED)
    settle(engine)
    engine.dispose()
    figures: dict[str, Any] = {"build_seconds": round(built.seconds, 1)}
    peak = 0.0
    for leg in LEGS:  # each in a fresh process: the page's first run there is a cold one, after no other leg
        part, leg_peak = in_child(leg, url, store)
        figures |= part
        peak = max(peak, leg_peak)
    return figures | {"peak_rss_mb": round(peak, 1)}


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sqlite-only", action="store_true", help="skip the PostgreSQL part (of both parts)")


def main(argv: list[str] | None = None) -> None:
    args = parse_args("Report benchmark: the A/B report, leaderboard and page", DEFAULT_SCALE, argv, _options)
    sqlite_url, postgres_server = split_database_url(args.database_url)
    scale, start = args.scale, machine()
    results: dict[str, dict[str, Any]] = {}
    with temp_folder("reports") as folder:
        say(f"SQLite: building a store of {scale:,} comparisons and {scale:,} ratings ...")
        url = fresh_sqlite(folder, "reports.db", sqlite_url)
        results["sqlite"] = run_database(url, scale)
        if sqlite_url:
            get_engine(url).dispose()
        else:
            drop_sqlite(url)
    with fresh_postgres(None if args.sqlite_only else postgres_server) as pg_url:
        if pg_url and not args.sqlite_only:
            say("PostgreSQL: building the same store ...")
            results["postgres"] = run_database(pg_url, scale)
    end = machine()

    print(
        f"Report benchmark: {scale:,} comparisons and {scale:,} ratings over {VERSIONS} chatbot versions, "
        f"{max(1_000, scale // 10):,} moderation items; {start['cpus']} cores, Python {start['python']}, SQLite "
        f"{start['sqlite']}; load average {start['load_average_1m']} at the start, {end['load_average_1m']} at the end"
    )
    rows = [
        ("build the store (s)", "build_seconds"),
        ("A/B report with leaderboard, first call (s)", "ab_report_first_s"),
        ("A/B report with leaderboard, median (s)", "ab_report_s"),
        ("... the pair's comparisons (s)", "pair_comparisons_s"),
        ("... the pair's ratings (s)", "pair_ratings_s"),
        ("... leaderboard counts (s)", "leaderboard_counts_s"),
        (f"... leaderboard, {ROUNDS} bootstrap rounds (s)", "leaderboard_s"),
        ("leaderboard of one topic (s)", "leaderboard_topic_s"),
        ("leaderboard of the last 30 days (s)", "leaderboard_30_days_s"),
        ("moderation A/B report (s)", "moderation_report_s"),
        ("baseline: leaderboard counts joined to response (s)", "baseline_joined_counts_s"),
        ("page, first run in a fresh process (s)", "page_cold_s"),
        ("page, warm run p50 (ms)", "page_warm_p50_ms"),
        ("page, warm run p95 (ms)", "page_warm_p95_ms"),
        ("peak RSS of the measuring process (MB)", "peak_rss_mb"),
    ]
    dbs = list(results)
    print_table(["leg", *dbs], [[label, *(results[db].get(key) for db in dbs)] for label, key in rows])
    sqlite = results["sqlite"]
    report_ok = sqlite["ab_report_s"] <= TARGET_REPORT_S and sqlite["ab_report_first_s"] <= TARGET_REPORT_S
    page_ok = sqlite["page_warm_p95_ms"] <= TARGET_PAGE_WARM_MS
    memory_ok = sqlite["peak_rss_mb"] <= TARGET_PEAK_RSS_MB
    print(f"verdict of the A/B report: {sqlite['ab_report_verdict']}")
    print(
        f"targets on SQLite: A/B report with leaderboard <= {TARGET_REPORT_S} s: "
        f"{sqlite['ab_report_first_s']} s first, {sqlite['ab_report_s']} s median ({_verdict(report_ok)}); "
        f"page warm <= {TARGET_PAGE_WARM_MS:.0f} ms: "
        f"p95 {sqlite['page_warm_p95_ms']} ms ({_verdict(page_ok)}); memory <= {TARGET_PEAK_RSS_MB} MB: "
        f"{sqlite['peak_rss_mb']:.0f} MB ({_verdict(memory_ok)})"
    )
    figures: dict[str, Any] = {"scale": scale, "versions": VERSIONS, "bootstrap_rounds": ROUNDS}
    figures |= {"load_average_start": start["load_average_1m"], "load_average_end": end["load_average_1m"]}
    for db, values in results.items():
        figures |= {f"{db}_{key}": value for key, value in values.items() if key != "ab_report_verdict"}
    figures |= {"report_target_met": report_ok, "page_target_met": page_ok, "memory_target_met": memory_ok}
    print()
    dashboard_figures = dashboards.run(args)
    figures |= {f"dashboards_{key}": value for key, value in dashboard_figures.items()}
    reports_ok = all(
        values["ab_report_comparisons_of_pair"] > 0 and values["ab_report_leaderboard_versions"] == VERSIONS
        for values in results.values()
    )
    finish(figures | {"reports_checks_ok": reports_ok, "checks_ok": reports_ok and dashboard_figures["checks_ok"]})


if __name__ == "__main__":
    main()

"""Load benchmark: the real app on a store of N judgments, with reviewers rating answers through real sessions.

    python -m benchmarks.load [--scale N] [--database-url URL] [--reviewers R] [--seconds S] [--think T] [--apps A]

Per database (SQLite in a temporary folder; PostgreSQL as a fresh database, dropped afterwards, skipped with a note
if the server is unreachable):

- build: `benchmarks.dashboard_store` (a year of N judgments with their work items, assignments and audit events,
  by bulk Core inserts), R reviewer accounts made by `core.auth.create_user`, and a backlog of fresh answers queued
  for rating by `core.review.sync.sync_queue` (as an import queues them), then settled (untimed);
- app: `streamlit run app/server.py`, headless on a free loopback port, DATABASE_URL pointing at the store; with
  `--apps A`, A such processes on A ports, the reviewers spread over them in turn (a team deployment's replicas
  behind a sticky proxy, docs/deploy.md);
- load: R browser-less sessions, each its own websocket speaking Streamlit's protocol (protobuf BackMsg/ForwardMsg, as
  the browser's JavaScript does): sign in through the login form, open "Rate answers", then until the time is up:
  score the answer shown (the form's three score buttons, then its Submit button, which reruns the judging fragment)
  and wait for what follows: the "Saved" toast and the next answer. "Page time" is the wall clock from sending that
  click to the end of the page's last script run (`script_finished`): what a reviewer waits between Submit and the
  next answer on screen. Two legs of S seconds each: paced (every reviewer reads before each Submit, T seconds on
  average, default 5, each time drawn between T/2 and 3T/2: people at work, not in step; the page-time target is
  judged here), then flat out (no reading: the app's capacity, and its page time saturated);
- check: acknowledged submissions (the page said "Saved") against the ratings found in the store afterwards, made
  by these reviewers with their audit events: the difference is lost judgments.

Targets (the issue): 0 errors, 0 lost judgments, p95 next-item page <= 300 ms."""

from __future__ import annotations

import argparse
import asyncio
import os
import random
from contextlib import AsyncExitStack, ExitStack
from time import perf_counter
from typing import Any

import psutil
from sqlalchemy import Engine, func, insert, select

from benchmarks.common import (
    Timer,
    advance_sequences,
    drop_sqlite,
    finish,
    fresh_postgres,
    fresh_sqlite,
    machine,
    parse_args,
    percentile,
    print_table,
    say,
    settle,
    split_database_url,
    temp_folder,
)
from benchmarks.dashboard_store import CHATBOTS, build_dashboard_store
from benchmarks.report_store import TEXT
from benchmarks.st_session import BrowserlessSession, SessionError, press, trigger, write
from core.accounts.users import create_user
from core.review.sync import sync_queue
from core.store.db import get_engine, session_scope
from core.store.models import AuditEvent, ModelVersion, Prompt, Rating, Response, User, utcnow
from tests.live_app import running_app

DEFAULT_SCALE = 1_000_000
REVIEWERS = 20
SECONDS = 60.0
THINK = 5.0  # seconds a quick expert takes at least to read an answer and score it
TARGET_PAGE_P95_MS = 300.0
PASSWORD = "load-benchmark-password"
USERNAME = "load"  # the reviewers are load00, load01, ...
ITEMS_PER_REVIEWER_SECOND = 20  # backlog per reviewer and second of each leg: more than the app can take
LEGS = ("paced", "flat")
SYNC_BATCH = 5_000
SCORES = (4, 5, 4)  # helpfulness, harmlessness, accuracy: no rationale needed
SAVED = "Saved. Here is the next answer."
RATE_PAGE = "Rate answers"


# --- the store ------------------------------------------------------------------------------------------------------


def build_store(engine: Engine, scale: int, reviewers: int, backlog: int) -> dict[str, Any]:
    """The dashboard store, the reviewers' accounts, and a backlog of answers queued for rating."""
    with Timer() as built:
        counts = build_dashboard_store(engine, judgments=scale, progress=say)
        advance_sequences(engine)  # the store's rows carry their ids; the app's new rows must not collide
        with session_scope(engine, write=True) as session:
            for n in range(reviewers):
                create_user(session, username=f"{USERNAME}{n:02d}", role="expert", password=PASSWORD)
        answers = _backlog(engine, backlog)
        for start in range(0, len(answers), SYNC_BATCH):
            with session_scope(engine, write=True) as session:
                sync_queue(session, "rating", subject_ids=answers[start : start + SYNC_BATCH])
        settle(engine)
    return {"judgments": counts["judgments"], "backlog": backlog, "build_seconds": round(built.seconds, 1)}


def _backlog(engine: Engine, n: int) -> list[int]:
    """N fresh questions answered by the newest chatbot version (one the rating queue serves): their answer ids."""
    now = utcnow()
    with engine.begin() as conn:
        version = conn.execute(select(ModelVersion.id).where(ModelVersion.name == CHATBOTS[-1])).scalar_one()
        prompt0 = conn.execute(select(func.coalesce(func.max(Prompt.id), 0))).scalar_one() + 1
        answer0 = conn.execute(select(func.coalesce(func.max(Response.id), 0))).scalar_one() + 1
        conn.execute(insert(Prompt.__table__), [
            {"id": prompt0 + i, "external_id": f"load-p{i}", "source": "import", "text": f"Question {i}: {TEXT[:80]}?",
             "topic": "vat", "meta": {}, "created_at": now}
            for i in range(n)
        ])  # fmt: skip
        conn.execute(insert(Response.__table__), [
            {"id": answer0 + i, "external_id": f"load-r{i}", "prompt_id": prompt0 + i, "model_version_id": version,
             "text": f"Answer {i}: {TEXT} {TEXT}", "meta": {}, "created_at": now}
            for i in range(n)
        ])  # fmt: skip
    return list(range(answer0, answer0 + n))


# --- the reviewers --------------------------------------------------------------------------------------------------


async def sign_in(session: BrowserlessSession, username: str) -> Any:
    """Sign in through the login form and open the rate page: the page, showing the first answer."""
    login = await session.open()
    signed_in = await session.run([
        write(login.widget("text_input", "Username"), username),
        write(login.widget("text_input", "Password"), PASSWORD),
        trigger(login.widget("button", "Sign in")),
    ])  # fmt: skip
    if not any(kind == "button" and element.label == "Sign out" for kind, element in signed_in.elements):
        raise SessionError(f"{username} could not sign in: {signed_in.alerts() or signed_in.texts()[:3]}")
    return await session.open(RATE_PAGE)


async def rate_until(
    session: BrowserlessSession, page: Any, deadline: float, think: float, out: dict, rng: random.Random
) -> None:
    """Rate the answers the page shows, one after another, until the deadline (the page under way is finished).

    Reading takes each time between half and one and a half times `think` (people differ and answers do), so the
    reviewers who signed in together do not all press Submit in the same instant, round after round."""
    while perf_counter() < deadline:
        if think:
            await asyncio.sleep(think * rng.uniform(0.5, 1.5))
        page = await _rate(session, page)
        out["acknowledged"] += 1
        out["page_ms"].append(page.seconds * 1000)


async def _rate(session: BrowserlessSession, page: Any) -> Any:
    """Score the answer on the page and submit; the page that follows, which must say it was saved."""
    if any("Nothing left to rate" in text for text in page.alerts()):
        raise SessionError("the rating queue ran dry: the backlog is too small for the load")
    scales = [page.widget("button_group", f"**{name}**") for name in ("Helpfulness", "Harmlessness", "Accuracy")]
    submit = page.widget("button", "Submit")
    widgets = [press(scale, score - 1) for scale, score in zip(scales, SCORES, strict=True)]
    after = await session.run([*widgets, trigger(submit)], fragment_id=page.fragments.get(submit.id, ""))
    if SAVED not in after.toasts:
        raise SessionError(f"the rating was not saved: {after.alerts() or after.texts()[:3]}")
    return after


async def reviewer(
    session: BrowserlessSession, page: Any, deadline: float, think: float, rng: random.Random
) -> dict[str, Any]:
    """One signed-in reviewer rating until the deadline. Never raises: a failure is counted as an error and ends
    this reviewer's work (its page is then in an unknown state)."""
    out: dict[str, Any] = {"acknowledged": 0, "page_ms": [], "errors": 0, "first_error": None}
    try:
        await rate_until(session, page, deadline, think, out, rng)
    except Exception as error:  # counted and reported: the run requires none
        out["errors"] += 1
        out["first_error"] = f"{type(error).__name__}: {error}"
    return out


async def drive(base_urls: list[str], reviewers: int, seconds: float, think: float) -> dict[str, Any]:
    """All reviewers sign in (a refusal stops the benchmark), reviewer n on app n modulo the apps, then rate at once
    for `seconds`; each finishes the page it is on."""
    async with AsyncExitStack() as stack:
        sessions = [
            await stack.enter_async_context(BrowserlessSession(base_urls[n % len(base_urls)])) for n in range(reviewers)
        ]
        pages = await asyncio.gather(*(sign_in(s, f"{USERNAME}{n:02d}") for n, s in enumerate(sessions)))
        start, cpu = perf_counter(), _app_cpu_seconds()
        results = await asyncio.gather(
            *(
                reviewer(s, page, start + seconds, think, random.Random(n))
                for n, (s, page) in enumerate(zip(sessions, pages, strict=True))
            )
        )
        wall, cpu = perf_counter() - start, _app_cpu_seconds() - cpu
    return {
        "acknowledged": sum(r["acknowledged"] for r in results),
        "page_ms": [ms for r in results for ms in r["page_ms"]],
        "errors": sum(r["errors"] for r in results),
        "first_error": next((r["first_error"] for r in results if r["first_error"]), None),
        "seconds": wall,
        "app_cpu_seconds": cpu,
        "per_reviewer": sorted(r["acknowledged"] for r in results),
    }


def stored(engine: Engine) -> dict[str, int]:
    """Ratings the load reviewers have in the store, and their audit events."""
    reviewers = select(User.id).where(User.username.like(f"{USERNAME}%"))
    with session_scope(engine) as session:
        ratings = session.execute(select(func.count()).where(Rating.user_id.in_(reviewers))).scalar_one()
        events = session.execute(
            select(func.count()).where(AuditEvent.action == "rating.create", AuditEvent.actor_id.in_(reviewers))
        ).scalar_one()
    return {"ratings": ratings, "rating_events": events}


# --- one database ---------------------------------------------------------------------------------------------------


def run_database(url: str, args: argparse.Namespace) -> dict[str, Any]:
    """Build the store, start the app on it, run the paced leg then the flat-out leg; figures per leg."""
    engine = get_engine(url)
    backlog = max(100, int(args.reviewers * args.seconds * ITEMS_PER_REVIEWER_SECOND * len(LEGS)))
    say(f"  building {args.scale:,} judgments, {args.reviewers} reviewers, {backlog:,} answers to rate ...")
    store = build_store(engine, args.scale, args.reviewers, backlog)
    engine.dispose()
    out = {"judgments": store["judgments"], "backlog": backlog, "build_seconds": store["build_seconds"]}
    say(f"  built in {store['build_seconds']} s; starting {args.apps} app process(es) ...")
    with ExitStack() as apps:
        base_urls = [apps.enter_context(running_app(url)) for _ in range(args.apps)]
        for leg, think in zip(LEGS, (args.think, 0.0), strict=True):
            before = stored(engine)
            say(f"  {leg}: {args.reviewers} reviewers for {args.seconds:g} s (think {think:g} s) on {base_urls} ...")
            load = asyncio.run(drive(base_urls, args.reviewers, args.seconds, think))
            figures = leg_figures(load, before, stored(engine))
            out |= {f"{leg}_{name}": value for name, value in figures.items()}
            engine.dispose()
    return out


def _app_cpu_seconds() -> float:
    """CPU time so far of the app's servers (the `streamlit run` children of this process): on a shared machine the
    page times also count waits for a core, its CPU time per judgment does not."""
    apps = [p for p in psutil.Process().children() if "streamlit" in " ".join(p.cmdline())]
    return sum(p.cpu_times().user + p.cpu_times().system for p in apps)


def leg_figures(load: dict[str, Any], before: dict[str, int], after: dict[str, int]) -> dict[str, Any]:
    found = after["ratings"] - before["ratings"]
    page = load["page_ms"] or [0.0]  # no page at all: the errors and the targets say so
    return {
        "seconds": round(load["seconds"], 1),
        "acknowledged": load["acknowledged"],
        "stored": found,
        "audit_events": after["rating_events"] - before["rating_events"],
        "lost": load["acknowledged"] - found,
        "judgments_per_s": round(load["acknowledged"] / load["seconds"], 2) if load["seconds"] else 0.0,
        "page_p50_ms": round(percentile(page, 50), 1),
        "page_p95_ms": round(percentile(page, 95), 1),
        "page_p99_ms": round(percentile(page, 99), 1),
        "page_max_ms": round(max(page), 1),
        "app_cpu_ms_per_judgment": round(load["app_cpu_seconds"] * 1000 / max(1, load["acknowledged"]), 1),
        "per_reviewer_min": load["per_reviewer"][0],
        "per_reviewer_max": load["per_reviewer"][-1],
        "errors": load["errors"],
        "first_error": load["first_error"],
    }


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--reviewers", type=int, default=REVIEWERS, help=f"sessions at once (default {REVIEWERS})")
    parser.add_argument(
        "--seconds", type=float, default=SECONDS, help=f"length of each of the two legs (default {SECONDS:g})"
    )
    parser.add_argument(
        "--think",
        type=float,
        default=THINK,
        help=f"seconds a reviewer of the paced leg reads before each Submit, on average (default {THINK:g}; each time "
        "between half and one and a half times that); the flat-out leg "
        "uses 0",
    )
    parser.add_argument("--apps", type=int, default=1, help="app processes (replicas) sharing the store (default 1)")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(__doc__.splitlines()[0], DEFAULT_SCALE, argv, _options)
    if args.reviewers < 1 or args.seconds <= 0 or args.think < 0 or args.apps < 1:
        raise SystemExit("--reviewers and --apps must be at least 1, --seconds more than 0, --think at least 0")
    sqlite_url, postgres_server = split_database_url(args.database_url)
    out: dict[str, Any] = {"scale": args.scale, "driver": "streamlit-websocket", "reviewers": args.reviewers}
    out["apps"] = args.apps
    out |= {"think_seconds": args.think, "load_average_at_start": round(os.getloadavg()[0], 2)}
    dbs = []
    if postgres_server is None:
        with temp_folder("load") as folder:
            say("SQLite ...")
            url = fresh_sqlite(folder, "load.db", sqlite_url)
            out |= {f"sqlite_{k}": v for k, v in run_database(url, args).items()}
            dbs.append("sqlite")
            if sqlite_url:  # the caller's file: keep it
                get_engine(url).dispose()
            else:
                drop_sqlite(url)
    if sqlite_url is None:
        with fresh_postgres(postgres_server) as pg_url:
            if pg_url:
                say("PostgreSQL ...")
                out |= {f"postgres_{k}": v for k, v in run_database(pg_url, args).items()}
                dbs.append("postgres")
    out["load_average_at_end"] = round(os.getloadavg()[0], 2)
    report(out, dbs)


def report(out: dict[str, Any], dbs: list[str]) -> None:
    print(
        f"Load benchmark: {out['apps']} app process(es) (streamlit run) on a store of {out['scale']:,} judgments; "
        f"{out['reviewers']} "
        "reviewers, each a browser-less Streamlit session over the websocket protocol, rating answers on the rate page"
    )
    legs = [(db, leg) for db in dbs for leg in ("paced", "flat")]
    print_table(
        ["store", "judgments", "build s"], [[db, out[f"{db}_judgments"], out[f"{db}_build_seconds"]] for db in dbs]
    )
    print()
    print_table(
        ["leg", "think s", "load s", "saved", "stored", "lost", "errors", "per s", "p50 ms", "p95 ms", "p99 ms",
         "max ms", "app CPU ms"],
        [[f"{db}: {leg}", out["think_seconds"] if leg == "paced" else 0.0]
         + [out[f"{db}_{leg}_{name}"] for name in ("seconds", "acknowledged", "stored", "lost", "errors",
                                                     "judgments_per_s", "page_p50_ms", "page_p95_ms", "page_p99_ms",
                                                     "page_max_ms", "app_cpu_ms_per_judgment")]
         for db, leg in legs],
    )  # fmt: skip
    print(
        "page time: from the click on Submit to the end of the page showing the next answer (one run of the judging "
        "fragment: it stores the rating, then draws the next answer); paced: reviewers read for the think time "
        "before each Submit; flat: they submit as soon as the page is there (the capacity)"
    )
    ok, checks_ok = True, bool(legs)
    for db, leg in legs:
        if first_error := out[f"{db}_{leg}_first_error"]:
            print(f"{db} {leg}: first error: {first_error}")
        targets = _targets(out, db, leg)
        for name, met, value in targets:
            print(f"{db} {leg}: {name}: {value} {'PASS' if met else 'MISSED'}")
        out[f"{db}_{leg}_targets_met"] = met_all = all(met for _, met, _ in targets)
        ok = ok and met_all
        checks_ok = checks_ok and all(met for name, met, _ in targets if name in CHECKS)
    print(f"1-minute load average {out['load_average_at_start']} at the start, {out['load_average_at_end']} at the end")
    finish(
        out
        | {"target_page_p95_ms": TARGET_PAGE_P95_MS, "targets_met": ok, "checks_ok": checks_ok, "machine": machine()}
    )


CHECKS = ("errors = 0", "lost judgments = 0", "judgments stored > 0")  # correctness: a failure exits 1


def _targets(out: dict[str, Any], db: str, leg: str) -> list[tuple[str, bool, Any]]:
    """(target, met, value) of a leg; the page-time target is the paced leg's (reviewers working as people do)."""

    def g(name: str) -> Any:
        return out[f"{db}_{leg}_{name}"]

    targets = [
        ("errors = 0", g("errors") == 0, g("errors")),
        ("lost judgments = 0", g("lost") == 0 and g("audit_events") == g("stored"), g("lost")),
        ("judgments stored > 0", g("stored") > 0, g("stored")),
    ]
    if leg == "paced":
        p95 = g("page_p95_ms")
        targets.append((f"p95 next-item page <= {TARGET_PAGE_P95_MS:g} ms", p95 <= TARGET_PAGE_P95_MS, p95))
    return targets


if __name__ == "__main__":
    main()

"""Active comparison benchmark: how many judgments the leaderboard needs to settle, pairs served alike (random)
against pairs chosen by their information (active, core.review.active).

    python -m benchmarks.active [--versions V] [--seeds S] [--prompts P] [--strengths even|drawn] [--spacing D]
        [--latency-judgments N]

- store: V chatbot versions (default 15) and P prompts (default 1,000) each answered by every version, loaded by
  bulk Core inserts with three experts and an admin; the comparison queue serves all versions' pairs with k = 1 and
  no gold (P pairs of answers per pair of versions). It is built once and copied for each run;
- run (per seed, per strategy): the admin sets the strategy (`core.review.service.configure_queue`), then the three
  experts take turns: `service.next_item` -> answer -> `service.compare`, as the compare page does. An expert sees
  two texts, left and right (the side drawn by the queue), and answers from known Bradley-Terry strengths, except
  one answer in ten, picked at random (RANDOM_ANSWERS). The true ratings (v01 best) are, with --strengths drawn (the
  default), drawn per seed from a normal distribution of sd SPREAD points, neighbours pushed at least MIN_GAP
  apart; with --strengths even, --spacing points apart (default 50);
- stopping rule: every CHECK judgments the leaderboard is read as the A/B page shows it
  (`core.reports.ab.leaderboard`: Bradley-Terry with 200-round bootstrap 95% intervals); the run stops when every
  version's interval lies within +-HALF_WIDTH points of its rating and the versions' order is the true one, or at
  the cap (MAX_JUDGMENTS, counted as not settled);
- at best (`bound`): the same count with the fit's strengths known and analytic intervals, every pair alike against
  the plan (core.stats.pair_design) made with them: the saving the plan reaches without estimating anything, beside
  the saving the queue reached (medians over the seeds: drawn ratings differ per seed);
- latency (with --latency-judgments N > 0): a store of V versions whose comparison table holds N judgments (bulk
  loaded, imported ones: the items stay open), the queue set to active; then one expert's next item (timed) and
  submission, CALLS times, each EVERY-th submission re-planning the order (its time reported apart).

Prints a table per run and ends with one JSON line: {"versions", "seeds", "strengths", "random_median",
"active_median", "saving", ...}. Goal (the issue): active needs at least 40% fewer judgments than random; next item
p95 <= 5 ms."""

from __future__ import annotations

import argparse
import math
import random
import shutil
import statistics
from collections.abc import Sequence
from pathlib import Path
from time import perf_counter
from typing import Any

import numpy as np
from sqlalchemy import Engine, func, insert, select

from benchmarks.common import (
    Timer,
    fresh_sqlite,
    machine,
    percentile,
    print_figures,
    print_table,
    say,
    settle,
    temp_folder,
)
from core.auth import UserPublic
from core.reports.ab.leaderboard import leaderboard
from core.reports.filters import Filters
from core.review import active, service
from core.review.judgments import ComparisonIn
from core.stats.bradley_terry import SCALE, Battles, fit
from core.stats.pair_design import covariance, extend
from core.store.db import get_engine, session_scope
from core.store.models import Comparison, ModelVersion, Prompt, Response, User, utcnow

VERSIONS = 15
SEEDS = 20
PROMPTS = 1_000
EXPERTS = 3
SCENARIOS = ("drawn", "even")
SPREAD = 100.0  # sd of drawn true ratings: 15 models picked across Chatbot Arena's board spread about that much
MIN_GAP = 10.0  # points between drawn neighbours at least: a tie of two versions would never settle their order
SPACING = 50.0  # points between neighbouring true ratings, evenly spaced
RANDOM_ANSWERS = 0.1
HALF_WIDTH = 25.0
CHECK = 50  # judgments between two readings of the leaderboard
MAX_JUDGMENTS = 40_000
GOAL_SAVING = 0.40
TARGET_NEXT_P95_MS = 5.0
CALLS = 1_000


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--versions", type=int, default=VERSIONS, help=f"chatbot versions (default {VERSIONS})")
    parser.add_argument("--seeds", type=int, default=SEEDS, help=f"runs per strategy (default {SEEDS})")
    parser.add_argument(
        "--prompts", type=int, default=PROMPTS, help=f"prompts, each answered by every version (default {PROMPTS:,})"
    )
    parser.add_argument(
        "--strengths",
        choices=SCENARIOS,
        default=SCENARIOS[0],
        help=f"true ratings drawn per seed (sd {SPREAD:.0f} points) or evenly spaced (default {SCENARIOS[0]})",
    )
    parser.add_argument(
        "--spacing",
        type=float,
        default=SPACING,
        help=f"with --strengths even: points between neighbouring true ratings (default {SPACING:.0f})",
    )
    parser.add_argument(
        "--latency-judgments",
        type=int,
        default=0,
        metavar="N",
        help="also time next item on an active queue over a store of N judgments (e.g. 1000000; default: not run)",
    )


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    _options(parser)
    args = parser.parse_args(argv)
    if not 2 <= args.versions <= 50:
        parser.error("--versions must be between 2 and 50")
    if not 1 <= args.seeds <= 1_000:
        parser.error("--seeds must be between 1 and 1,000")
    if args.prompts < 1 or args.latency_judgments < 0:
        parser.error("--prompts must be at least 1 and --latency-judgments at least 0")
    if not 1 <= args.spacing <= 400:
        parser.error("--spacing must be between 1 and 400 points")
    return args


def ratings(versions: int, strengths: str, seed: int, spacing: float = SPACING) -> list[float]:
    """The true ratings in points, best (v01) first: evenly spaced, or drawn for this seed (see the docstring)."""
    if strengths == "even":
        return [-v * spacing for v in range(versions)]
    drawn = sorted(np.random.default_rng(seed).normal(0, SPREAD, versions), reverse=True)
    gaps = np.maximum(-np.diff(drawn), MIN_GAP)
    return [0.0, *(-np.cumsum(gaps)).tolist()]


def names(versions: int) -> list[str]:
    return [f"v{n + 1:02d}" for n in range(versions)]


def build(engine: Engine, versions: int, prompts: int) -> dict[str, int]:
    """The store: users, versions, prompts each answered by every version (text "p<prompt> v<version>", which the
    simulated experts read), the comparison queue over all versions with k = 1. Returns text -> version index."""
    now = utcnow()
    truth = {}
    with engine.begin() as conn:
        users = [{"username": "admin", "role": "admin"}] + [
            {"username": f"expert{n}", "role": "expert"} for n in range(EXPERTS)
        ]
        conn.execute(
            insert(User.__table__),
            [u | {"display_name": "", "active": True, "failed_logins": 0, "created_at": now} for u in users],
        )
        rows = [{"name": n, "kind": "chatbot", "notes": "", "meta": {}, "created_at": now} for n in names(versions)]
        conn.execute(insert(ModelVersion.__table__), rows)
        ids = dict(conn.execute(select(ModelVersion.name, ModelVersion.id)).all())
        conn.execute(
            insert(Prompt.__table__),
            [
                {"id": p + 1, "external_id": f"p{p}", "source": "import", "text": f"Question {p}?", "topic": "vat",
                 "meta": {}, "created_at": now}
                for p in range(prompts)
            ],
        )  # fmt: skip
        responses = []
        for p in range(prompts):
            for v, name in enumerate(names(versions)):
                text = f"p{p} {name}"
                truth[text] = v
                responses.append(
                    {"external_id": f"r{p}-{v}", "prompt_id": p + 1, "model_version_id": ids[name], "text": text,
                     "meta": {}, "created_at": now}
                )  # fmt: skip
        conn.execute(insert(Response.__table__), responses)
    service.configure_queue(
        actor=_user(engine, "admin"), queue="comparison", versions=names(versions), k=1, gold_share=0.0, engine=engine
    )
    settle(engine)
    return truth


def _user(engine: Engine, username: str) -> UserPublic:
    with session_scope(engine) as s:
        user = s.execute(select(User).where(User.username == username)).scalar_one()
        return UserPublic.of(user)


def simulate(url: str, truth: dict[str, int], true: list[float], strategy: str, seed: int) -> dict[str, Any]:
    """One run on the store at `url`, the versions' true ratings `true` (points, best first): judgments until the
    stopping rule holds (see the module's docstring)."""
    engine = get_engine(url)
    service.configure_queue(actor=_user(engine, "admin"), queue="comparison", strategy=strategy, engine=engine)
    experts = [_user(engine, f"expert{n}") for n in range(EXPERTS)]
    rng = random.Random(seed)
    versions, strength = len(true), [r / SCALE for r in true]  # natural-log scale, v01 best
    judged, settled, widest = 0, False, math.inf
    started = perf_counter()
    while judged < MAX_JUDGMENTS:
        view = service.next_item(actor=experts[judged % EXPERTS], queue="comparison", engine=engine)
        if view is None:
            break  # the queue ran dry: too few prompts
        left, right = truth[view.left], truth[view.right]
        better = min(left, right)  # drawn by versions, not sides: a run does not depend on the sides drawn
        p_better = 1 / (1 + math.exp(-abs(strength[left] - strength[right])))
        if rng.random() < RANDOM_ANSWERS:
            p_better = 0.5
        winner = better if rng.random() < p_better else max(left, right)
        preferred = "left" if winner == left else "right"
        service.compare(
            actor=experts[judged % EXPERTS],
            assignment_id=view.assignment_id,
            comparison=ComparisonIn(preferred=preferred, strength="clear"),
            engine=engine,
        )
        judged += 1
        if judged % CHECK == 0:
            settled, widest = settles(engine, versions)
            if settled:
                break
    return {
        "strategy": strategy,
        "seed": seed,
        "judgments": judged if settled else None,
        "widest_half_width": round(widest, 1),
        "seconds": round(perf_counter() - started, 1),
    }


def settles(engine: Engine, versions: int) -> tuple[bool, float]:
    """Whether the leaderboard is settled (see the module's docstring), and its widest half-interval in points."""
    with session_scope(engine) as s:
        board = leaderboard(s, Filters(a="", b=""))
    if len(board) < versions:
        return False, math.inf
    widest = max(max(row.rating - row.ci_low, row.ci_high - row.rating) for row in board)
    ordered = [row.model for row in board] == names(versions)
    return widest <= HALF_WIDTH and ordered, widest


def bound(true: list[float]) -> dict[str, Any]:
    """The same count, at best: the fit's strengths known (what it converges to with RANDOM_ANSWERS), the analytic
    intervals (1.96 standard errors from the Fisher information, no sampling), the order taken as right. Every pair
    alike against core.stats.pair_design's plan made with those strengths, in steps of CHECK."""
    models = names(len(true))
    strength = np.array(true) / SCALE
    beats = RANDOM_ANSWERS / 2 + (1 - RANDOM_ANSWERS) / (1 + np.exp(strength[None, :] - strength[:, None]))
    np.fill_diagonal(beats, 0)
    strengths = fit(beats[None] * 1e4)[0]
    target = (HALF_WIDTH / 1.96 / SCALE) ** 2
    pairs = [(a, b) for k, a in enumerate(models) for b in models[k + 1 :]]
    alike = 0
    while (
        covariance(Battles.of(models, [(a, b, alike / 2, alike / 2, 0) for a, b in pairs]), strengths).diagonal().max()
        > target
    ):
        alike += 1
    cov, planned = covariance(Battles.of(models, []), strengths), 0
    while cov.diagonal().max() > target:
        _, cov = extend(cov, strengths, CHECK, order=0)  # the order taken as right: intervals alone
        planned += CHECK
    return {"bound_random": alike * len(pairs), "bound_active": planned}


def latency(folder: Path, versions: int, judgments: int) -> dict[str, Any]:
    """Next item on an active comparison queue over a store of `judgments` comparisons."""
    url = fresh_sqlite(folder, "latency.db")
    engine = get_engine(url)
    prompts = max(100, judgments // (versions * (versions - 1) // 2))
    with Timer() as built:
        build(engine, versions, min(prompts, 2_000))
        _load_comparisons(engine, judgments)
        settle(engine)
    admin, expert = _user(engine, "admin"), _user(engine, "expert0")
    with Timer() as configured:
        service.configure_queue(actor=admin, queue="comparison", strategy="active", engine=engine)
    next_ms, submit_ms, refresh_ms = [], [], []
    for n in range(CALLS):
        t0 = perf_counter()
        view = service.next_item(actor=expert, queue="comparison", engine=engine)
        t1 = perf_counter()
        judgment_id = service.compare(
            actor=expert,
            assignment_id=view.assignment_id,
            comparison=ComparisonIn(preferred="left", strength="clear"),
            engine=engine,
        )
        t2 = perf_counter()
        if n >= 20:  # warm-up: connections, statement caches
            next_ms.append((t1 - t0) * 1000)
            (refresh_ms if active.due(judgment_id) else submit_ms).append((t2 - t1) * 1000)
    with session_scope(engine) as s:
        stored = s.execute(select(func.count()).select_from(Comparison)).scalar_one()
    return {
        "latency_judgments": stored,
        "latency_build_seconds": round(built.seconds, 1),
        "latency_configure_ms": round(configured.seconds * 1000, 1),
        "next_p50_ms": round(percentile(next_ms, 50), 2),
        "next_p95_ms": round(percentile(next_ms, 95), 2),
        "submit_p95_ms": round(percentile(submit_ms, 95), 2),
        "refreshing_submit_median_ms": round(statistics.median(refresh_ms), 1) if refresh_ms else None,
    }


def _load_comparisons(engine: Engine, count: int) -> None:
    """`count` imported comparisons (no reviewer: the queue's items stay open) spread over every pair of versions."""
    rng = random.Random(7)
    with engine.begin() as conn:
        answers = conn.execute(select(Response.id, Response.prompt_id, Response.model_version_id)).all()
        by_prompt: dict[int, list] = {}
        for row in answers:
            by_prompt.setdefault(row.prompt_id, []).append(row)
        prompts = list(by_prompt.values())
        now = utcnow()
        for start in range(0, count, 50_000):
            rows = []
            for n in range(start, min(count, start + 50_000)):
                a, b = rng.sample(prompts[n % len(prompts)], 2)
                rows.append(
                    {"key": f"bench-{n}", "source": "import", "prompt_id": a.prompt_id, "response_a_id": a.id,
                     "response_b_id": b.id, "version_a_id": a.model_version_id, "version_b_id": b.model_version_id,
                     "choice": rng.choice(("a", "b", "tie")), "dimensions": {}, "rationale": "", "spans": {},
                     "created_at": now}
                )  # fmt: skip
            conn.execute(insert(Comparison.__table__), rows)


def main(argv: Sequence[str] | None = None) -> None:
    args = _parse(argv)
    figures: dict[str, Any] = {"versions": args.versions, "seeds": args.seeds, "prompts": args.prompts}
    figures |= {"strengths": args.strengths} | (
        {"spacing": args.spacing} if args.strengths == "even" else {"spread": SPREAD, "min_gap": MIN_GAP}
    )
    results, bounds = [], []
    with temp_folder("active") as folder:
        template = fresh_sqlite(folder, "template.db")
        say(f"building the store: {args.versions} versions, {args.prompts:,} prompts")
        truth = build(get_engine(template), args.versions, args.prompts)
        get_engine(template).dispose()
        for seed in range(args.seeds):
            true = ratings(args.versions, args.strengths, seed, args.spacing)
            bounds.append(bound(true))
            for strategy in ("random", "active"):
                path = folder / f"{strategy}-{seed}.db"
                shutil.copyfile(Path(template.removeprefix("sqlite:///")), path)
                result = simulate(f"sqlite:///{path}", truth, true, strategy, seed)
                get_engine(f"sqlite:///{path}").dispose()
                path.unlink()
                say(f"seed {seed} {strategy}: {result}")
                results.append(result)
        if args.latency_judgments:
            say(f"latency: building a store of {args.latency_judgments:,} judgments")
            figures |= latency(folder, args.versions, args.latency_judgments)
    print_table(
        ["strategy", "seed", "judgments", "widest +-", "seconds"],
        [[r["strategy"], r["seed"], r["judgments"], r["widest_half_width"], r["seconds"]] for r in results],
    )
    for strategy in ("random", "active"):
        counts = [
            r["judgments"] if r["judgments"] is not None else math.inf for r in results if r["strategy"] == strategy
        ]
        median = statistics.median(counts)
        figures[f"{strategy}_median"] = median if math.isfinite(median) else None
        figures[f"{strategy}_unsettled"] = sum(1 for c in counts if not math.isfinite(c))
    random_median, active_median = figures["random_median"], figures["active_median"]
    saving = None if not (random_median and active_median) else round(1 - active_median / random_median, 3)
    figures |= {"saving": saving, "meets_goal": saving is not None and saving >= GOAL_SAVING}
    figures |= {key: statistics.median(b[key] for b in bounds) for key in ("bound_random", "bound_active")}
    figures["bound_saving"] = round(1 - figures["bound_active"] / figures["bound_random"], 3)
    if "next_p95_ms" in figures:
        figures["meets_target_next"] = figures["next_p95_ms"] <= TARGET_NEXT_P95_MS
    print(
        f"median judgments until every rating is within +-{HALF_WIDTH:.0f} points and the order is right: random "
        f"{random_median}, active {active_median}; saving {saving} (goal >= {GOAL_SAVING:.0%}); at best (strengths "
        f"known, analytic intervals): random {figures['bound_random']}, active {figures['bound_active']}, saving "
        f"{figures['bound_saving']}"
    )
    print_figures(figures | {"machine": machine()})


if __name__ == "__main__":
    main()

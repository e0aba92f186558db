"""Browser benchmark: keypress to the next answer fully shown, in Chromium, on a store of N judgments.

    python -m benchmarks.browser [--scale N] [--reviewers R] [--seconds S] [--think T] [--baseline REF]

SQLite only (one app process, as the goals are set). Steps:

- build: the load benchmark's store (`benchmarks.load.build_store`: a year of N judgments, R expert accounts and a
  backlog of answers queued for rating), untimed;
- keys: the app (`streamlit run app/server.py`); R pages of one Chromium (Playwright, Debian's chromium), each in
  its own browser context, signed in as its own reviewer on Rate answers (a few at a time, before the clock starts).
  Each rates by keyboard alone: `4`, `5`, `4`, `Enter`. The time is from pressing Enter to the next answer fully
  shown: a new item on the page, its Submit button drawn and the app idle again (polled at each animation frame);
- click: the same reviewers rating by mouse on the same page (three score buttons, then Submit: timed from the click on
  Submit);
- baseline (with `--baseline REF`, e.g. the commit before the keyboard work): the app as it was at that git revision,
  run from a temporary worktree on the same store, rated by mouse as its page then asked (three radio options, then
  Submit; the page ran its script twice). Reload signed a reviewer out then, so each one opens the page from the
  sidebar.

Each path runs twice: one reviewer alone, then R at once, paced as `benchmarks.load` paces them (each reads between
T/2 and 3T/2 seconds before submitting). Goals (the issue): p95 <= 250 ms for one reviewer and <= 400 ms for 20, by
keyboard. A check at the end compares the ratings the reviewers made with those found in the store: a difference
is a lost judgment and fails the run (exit 1). Ends with one JSON line."""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from time import perf_counter
from typing import Any

from sqlalchemy import func, select

from benchmarks.common import (
    drop_sqlite,
    fresh_sqlite,
    machine,
    parse_args,
    percentile,
    print_figures,
    print_table,
    say,
    temp_folder,
)
from benchmarks.load import PASSWORD, USERNAME, build_store
from core.store.db import get_engine, session_scope
from core.store.models import Rating, User
from tests.live_app import CHROMIUM, CHROMIUM_ARGS, REPO_ROOT, running_app

DEFAULT_SCALE = 1_000_000
REVIEWERS = 20
SECONDS = 45.0
THINK = 5.0  # as benchmarks.load paces its reviewers
GOALS_MS = {1: 250.0, "many": 400.0}  # keyboard p95: one reviewer, and R at once
SCORES = ("4", "5", "4")
# What "the next answer fully shown" means on the page: the item changed, its Submit button is drawn, the app idle.
SHOWN = {
    "new": """(before) => {
        const item = document.body.dataset.wbItem;
        return item && item !== before && document.querySelector(`.st-key-${item}-submit button`) &&
            document.querySelector('[data-testid="stApp"][data-test-script-state="notRunning"]') ? item : null;
    }""",
    "old": """(before) => {
        const box = document.querySelector('[class*="st-key-rate-"][class*="-helpfulness"]');
        const item = box && [...box.classList].find((name) => name.startsWith("st-key-rate-"));
        return item && item !== before && document.querySelector('[data-testid="stRadio"]') &&
            document.querySelector('[data-testid="stApp"][data-test-script-state="notRunning"]') ? item : null;
    }""",
}


IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
SIGNING_IN_AT_ONCE = 4  # sign-ins (untimed) a few at a time: 20 pages loading at once starve 2 cores


async def _idle(page: Any) -> None:
    await page.wait_for_selector(IDLE, timeout=120_000)
    await page.wait_for_load_state("networkidle")


async def _open_rate_page(page: Any, base_url: str, username: str, ui: str) -> str:
    """Sign in on the form and open Rate answers; the item shown."""
    await page.goto(base_url, timeout=120_000)
    await page.get_by_role("textbox", name="Username").fill(username)
    await page.get_by_role("textbox", name="Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_role("button", name="Sign out").wait_for(timeout=120_000)
    if ui == "new":  # the browser fetches the session cookie, then the page; then the rate page by its address
        while not any(cookie["name"] == "wb_session" for cookie in await page.context.cookies()):
            await asyncio.sleep(0.1)
        await page.get_by_role("button", name="Sign out").wait_for(timeout=120_000)
        await _idle(page)
        await page.goto(f"{base_url}/rate", timeout=120_000)
    else:  # a new address signed a reviewer out then: the sidebar link
        await _idle(page)
        await page.locator('[data-testid="stSidebarNavLink"]', has_text="Rate answers").first.click()
    item = await (await page.wait_for_function(SHOWN[ui], arg="", timeout=120_000)).json_value()
    await _idle(page)
    return item


async def _score_by_keys(page: Any) -> None:
    for key in SCORES:
        await page.keyboard.press(key)


async def _score_by_mouse(page: Any) -> None:
    for field, score in zip(("helpfulness", "harmlessness", "accuracy"), SCORES, strict=True):
        await page.locator(f'[class*="-{field} "] button[data-variant]').nth(int(score) - 1).click()


async def _score_by_mouse_then(page: Any) -> None:
    """The rate page before the keyboard work: three radio groups whose options read "4: ..."."""
    for group, score in zip((await page.locator('[data-testid="stRadio"]').all())[:3], SCORES, strict=True):
        await group.locator("label").filter(has_text=f"{score}:").first.click()


# path -> (the page it runs on, how the scores are given (untimed), how the rating is submitted (timed from here))
PATHS: dict[str, tuple[str, Callable[[Any], Awaitable[None]], Callable[[Any], Awaitable[None]]]] = {
    "keys": ("new", _score_by_keys, lambda page: page.keyboard.press("Enter")),
    "click": ("new", _score_by_mouse, lambda page: page.get_by_role("button", name="Submit (Enter)").click()),
    "baseline click": (
        "old",
        _score_by_mouse_then,
        lambda page: page.get_by_role("button", name="Submit", exact=True).click(),
    ),
}


async def reviewer(browser: Any, base_url: str, username: str, path: str, think: float, n: int, out: dict) -> None:
    """One reviewer rating until the deadline; each submission's wall clock to the next answer fully shown.
    Never raises: a failure is counted as an error and ends this reviewer's work."""
    ui, score, submit = PATHS[path]
    context = await browser.new_context(viewport={"width": 1440, "height": 900})
    rng = random.Random(n)
    try:
        page = await context.new_page()
        async with out["signing_in"]:
            item = await _open_rate_page(page, base_url, username, ui)
        out["ready"] += 1
        await out["go"].wait()
        while perf_counter() < out["deadline"]:
            await asyncio.sleep(think * rng.uniform(0.5, 1.5))
            await score(page)
            started = perf_counter()
            await submit(page)
            shown = await page.wait_for_function(SHOWN[ui], arg=item, polling="raf", timeout=60_000)
            item = await shown.json_value()
            out["ms"].append((perf_counter() - started) * 1000)
    except Exception as error:  # counted and reported: the run requires none
        out["errors"].append(f"{username}: {type(error).__name__}: {str(error)[:300]}")
    finally:
        await context.close()


async def _leg(base_url: str, users: list[str], path: str, seconds: float, think: float) -> dict[str, Any]:
    from playwright.async_api import async_playwright

    out: dict[str, Any] = {"ms": [], "errors": [], "ready": 0, "deadline": 0.0}
    out |= {"go": asyncio.Event(), "signing_in": asyncio.Semaphore(SIGNING_IN_AT_ONCE)}
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        work = [asyncio.create_task(reviewer(browser, base_url, u, path, think, n, out)) for n, u in enumerate(users)]
        while out["ready"] + len(out["errors"]) < len(users):
            await asyncio.sleep(0.2)
        out["deadline"] = perf_counter() + seconds
        out["go"].set()
        await asyncio.gather(*work)
        await browser.close()
    return out


def leg(base_url: str, users: list[str], path: str, seconds: float, think: float) -> dict[str, Any]:
    """The reviewers at once, each in its own browser context (its own cookies) of one Chromium, all signed in
    before the clock starts."""
    out = asyncio.run(_leg(base_url, users, path, seconds, think))
    ms = out["ms"]
    return {
        "ratings": len(ms),
        "p50_ms": round(percentile(ms, 50), 1) if ms else None,
        "p95_ms": round(percentile(ms, 95), 1) if ms else None,
        "max_ms": round(max(ms), 1) if ms else None,
        "errors": len(out["errors"]),
        "first_error": out["errors"][0] if out["errors"] else None,
    }


def stored(url: str, users: list[str]) -> int:
    """Ratings the benchmark's reviewers have in the store."""
    with session_scope(get_engine(url)) as session:
        ids = select(User.id).where(User.username.in_(users))
        return session.execute(select(func.count()).where(Rating.user_id.in_(ids))).scalar_one()


@contextmanager
def baseline_tree(ref: str) -> Iterator[Path]:
    """The repository at `ref`, checked out into a temporary worktree (removed afterwards)."""
    with tempfile.TemporaryDirectory(prefix="baseline-") as folder:
        tree = Path(folder) / "tree"
        subprocess.run(["git", "worktree", "add", "--detach", str(tree), ref], cwd=REPO_ROOT, check=True,
                       capture_output=True)  # fmt: skip
        try:
            yield tree
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=REPO_ROOT, capture_output=True)


def run_paths(url: str, args: argparse.Namespace, users: list[str]) -> dict[str, Any]:
    """Every path, one reviewer then all of them; figures by path and count, and the lost-judgment check."""
    out: dict[str, Any] = {}
    made = 0
    apps = [("keys", None), ("click", None)] + ([("baseline click", args.baseline)] if args.baseline else [])
    for path, ref in apps:
        with (
            baseline_tree(ref) if ref else nullcontext(REPO_ROOT) as root,
            running_app(url, root=root, script="app/server.py" if ref is None else "app/main.py") as base_url,
        ):
            for group in (users[:1], users):
                name = f"{path.replace(' ', '_')}_{len(group)}"
                say(f"  {path}: {len(group)} reviewer(s) for {args.seconds:g} s ...")
                figures = leg(base_url, group, path, args.seconds, args.think)
                made += figures["ratings"]
                out |= {f"{name}_{key}": value for key, value in figures.items()}
    out["ratings_made"], out["ratings_stored"] = made, stored(url, users)
    return out


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--reviewers", type=int, default=REVIEWERS, help=f"browsers at once (default {REVIEWERS})")
    parser.add_argument("--seconds", type=float, default=SECONDS, help=f"length of each leg (default {SECONDS:g})")
    parser.add_argument(
        "--think",
        type=float,
        default=THINK,
        help=f"seconds read before each submission, on average (default {THINK:g})",
    )
    parser.add_argument("--baseline", help="a git revision whose click path to time on the same store, e.g. b93509e")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(__doc__.splitlines()[0], DEFAULT_SCALE, argv, _options)
    if args.reviewers < 1 or args.seconds <= 0 or args.think < 0:
        raise SystemExit("--reviewers must be at least 1, --seconds more than 0, --think at least 0")
    if args.database_url and not args.database_url.startswith("sqlite"):
        raise SystemExit("--database-url: this benchmark runs on SQLite only (sqlite:///NEW_FILE)")
    out: dict[str, Any] = {"scale": args.scale, "reviewers": args.reviewers, "seconds": args.seconds}
    out |= {
        "think_seconds": args.think,
        "baseline": args.baseline,
        "load_average_at_start": round(os.getloadavg()[0], 2),
    }
    users = [f"{USERNAME}{n:02d}" for n in range(args.reviewers)]
    with temp_folder("browser") as folder:
        url = fresh_sqlite(folder, "browser.db", args.database_url)
        say(f"building {args.scale:,} judgments and {args.reviewers} reviewers ...")
        backlog = max(200, int(args.reviewers * args.seconds * 8))
        out |= build_store(get_engine(url), args.scale, args.reviewers, backlog)
        get_engine(url).dispose()
        out |= run_paths(url, args, users)
        if not args.database_url:
            drop_sqlite(url)
    out["load_average_at_end"] = round(os.getloadavg()[0], 2)
    out["machine"] = machine()
    sys.exit(report(out))


def report(out: dict[str, Any]) -> int:
    """The table, the goals and the check; the JSON line last. Returns the exit status (1: a judgment was lost)."""
    r = out["reviewers"]
    print(f"Browser benchmark: Chromium, keypress or click to the next answer fully shown, on {out['scale']:,} "
          f"judgments (SQLite, one app process); a reviewer reads {out['think_seconds']:g} s on average")  # fmt: skip
    paths = [p for p in PATHS if f"{p.replace(' ', '_')}_1_ratings" in out]
    rows = []
    for path in paths:
        for count in sorted({1, r}):
            name = f"{path.replace(' ', '_')}_{count}"
            rows.append([path, count, *(out[f"{name}_{key}"] for key in ("ratings", "p50_ms", "p95_ms", "max_ms",
                                                                          "errors"))])  # fmt: skip
    print_table(["path", "reviewers", "ratings", "p50 ms", "p95 ms", "max ms", "errors"], rows)
    goals = [(1, GOALS_MS[1]), (r, GOALS_MS["many"])] if r > 1 else [(1, GOALS_MS[1])]
    met = True
    for count, goal in goals:
        p95 = out.get(f"keys_{count}_p95_ms")
        ok = p95 is not None and p95 <= goal
        met &= ok
        print(f"keys, {count} reviewer(s): p95 <= {goal:.0f} ms: {p95} {'PASS' if ok else 'MISSED'}")
    lost = out["ratings_made"] - out["ratings_stored"]
    errors = sum(out[f"{p.replace(' ', '_')}_{c}_errors"] for p in paths for c in {1, r})
    print(f"check: ratings made {out['ratings_made']}, stored {out['ratings_stored']}, lost {lost}; errors {errors}: "
          f"{'PASS' if lost == 0 and errors == 0 else 'FAILED'}")  # fmt: skip
    passed = lost == 0 and errors == 0
    out |= {"lost": lost, "errors": errors, "goals_met": met, "check_passed": passed, "checks_ok": passed}
    print_figures(out)
    return 0 if out["check_passed"] else 1


if __name__ == "__main__":
    main()

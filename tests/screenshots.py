"""`make screenshots`: one PNG per page in docs/screenshots/, from the demo data, as the role each page is for.

Run as `python -m tests.screenshots` or `python tests/screenshots.py` (options: --out FOLDER, --pages KEY ...)."""

from __future__ import annotations

import argparse
import secrets
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the repo root importable, as `python -m` does
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.navigation import PAGES
from core.accounts.service import command_line_user
from core.accounts.users import create_user
from core.auth import can_open
from core.demo.load import DEMO_USERS, load_demo
from core.review import queues
from core.review import service as review
from core.review.judgments import RatingIn, submit_rating
from core.store.db import dispose_engines, get_engine, session_scope, upgrade_schema, write_scope
from core.store.models import utcnow
from tests.live_app import CHROMIUM, WIDTH, chromium, full_page_png, open_page, running_app, sign_in, wait_until_idle

OUT = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
# A page is shown as the first of these roles that may open it: the person it is mainly for (the oversight pages:
# the expert lead, who sees each answer's model there; Review queues: the lead's named assignment and progress).
SHOT_ROLES = ("expert", "annotator", "product_owner", "admin")
LEAD_PAGES = ("audit", "agreement", "audit_sample", "flags", "queues")
# role -> (username, password): the first demo user of each role
DEMO_LOGINS = {role: (name, password) for name, password, role, _ in reversed(DEMO_USERS)}
# The judging pages fill the window (1440x900), part way through a judgment made by keys.
JUDGING_KEYS = {"rate": ("4", "5"), "compare": ("1", "w"), "moderation": ("1", "h"), "adjudicate": ("2",)}


def demo_store(folder: Path) -> str:
    """A fresh SQLite store with the demo data; returns its URL."""
    url = f"sqlite:///{folder / 'demo.db'}"
    engine = get_engine(url)
    upgrade_schema(engine)
    load_demo(engine)
    assign_demo_batches(engine)
    gate_demo_queue(engine)
    dispose_engines()
    return url


def assign_demo_batches(engine) -> None:
    """The demo lead's batches for the two experts, due in a week, and the first expert's first three done (45 s,
    70 s and 2 min each), so that Review queues shows progress and the experts' Home pages their line."""
    lead, expert = (command_line_user(name, engine=engine) for name in ("lead", "expert"))
    due = utcnow().date() + timedelta(days=7)
    review.assign(actor=lead, queue="rating", to=["expert", "expert2"], count=16, due=due, engine=engine)
    review.assign(actor=lead, queue="comparison", to=["expert2"], count=5, due=due, engine=engine)
    now = utcnow() - timedelta(hours=1)
    for seconds in (45, 70, 120):
        with write_scope(engine) as run:
            lease = queues.next_item(run, queue="rating", user_id=expert.id, now=now)
            now += timedelta(seconds=seconds)
            submit_rating(run, user_id=expert.id, assignment_id=lease.assignment_id, rating=RatingIn(4, 5, 4), now=now)


def gate_demo_queue(engine) -> None:
    """Three gold items on the rating queue, behind a gate of three at two in three right, which a reviewer new to
    the queue fails (one right), so that Review queues shows the gate and a reviewer waiting for a retry. (The demo's
    experts judged the queue before it had a gate: they count as qualified.)"""
    admin, lead = (command_line_user(DEMO_LOGINS[role][0], engine=engine) for role in ("admin", "lead"))
    with session_scope(engine, write=True) as session:
        newcomer = create_user(
            session, username="nina", role="expert", password=secrets.token_urlsafe(), display_name="Nina Weber"
        ).id
    for candidate in review.gold_candidates(actor=admin, queue="rating", engine=engine)[:3]:
        review.mark_gold(actor=admin, work_item_id=candidate.work_item_id, answer={"accuracy": 4}, engine=engine)
    review.configure_gate(actor=lead, queue="rating", qualify=3, pass_share=0.67, engine=engine)
    now = utcnow() - timedelta(minutes=20)
    for accuracy in (4, 3, 5):
        with write_scope(engine) as run:
            lease = queues.next_item(run, queue="rating", user_id=newcomer, now=now)
            if lease is None:  # failed before the last gold item: nothing more is served
                break
            now += timedelta(seconds=50)
            rating = RatingIn(4, 5, accuracy)
            submit_rating(run, user_id=newcomer, assignment_id=lease.assignment_id, rating=rating, now=now)


def shoot(base_url: str, out: Path, pages: list[str] | None = None) -> list[Path]:
    """Every page's screenshot and the sign-in screen's, or only those of `pages` (keys of PAGES, or "login")."""
    shots = []
    with chromium() as browser:
        if pages is None or "login" in pages:
            context = browser.new_context(viewport={"width": WIDTH, "height": 900})
            page = context.new_page()
            page.goto(base_url)
            page.get_by_role("button", name="Sign in").wait_for()
            wait_until_idle(page)
            shots.append(out / "login.png")
            full_page_png(page, shots[-1])
            context.close()
        for key, spec in PAGES.items():
            if pages is not None and key not in pages:
                continue
            role = "lead" if key in LEAD_PAGES else next(r for r in SHOT_ROLES if can_open(r, key))
            context = browser.new_context(viewport={"width": WIDTH, "height": 900})
            page = context.new_page()
            sign_in(page, base_url, *DEMO_LOGINS[role])
            if key != "home":
                open_page(page, spec.title)
            shots.append(out / f"{key}.png")
            if key in JUDGING_KEYS:
                for pressed in JUDGING_KEYS[key]:
                    page.keyboard.press(pressed)
                page.mouse.move(0, 0)
                wait_until_idle(page)
                page.screenshot(path=str(shots[-1]))
            else:
                full_page_png(page, shots[-1])
            context.close()
    return shots


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help=f"folder for the PNGs (default {OUT})")
    parser.add_argument(
        "--pages", nargs="+", choices=["login", *PAGES], metavar="KEY", help="only these pages (default: all)"
    )
    args = parser.parse_args(argv)
    if not CHROMIUM.exists():
        print(f"no Chromium at {CHROMIUM}: apt-get install -y chromium chromium-driver", file=sys.stderr)
        return 1
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as folder:
        url = demo_store(Path(folder))
        with running_app(url) as base_url:
            shots = shoot(base_url, args.out, args.pages)
    for path in shots:
        print(path)
    print(f"{len(shots)} screenshots in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

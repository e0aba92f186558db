"""`python -m core worker`: run the background jobs; `worker configure` and `worker status`: when they start and
how they went."""

from __future__ import annotations

import argparse
import logging

from core.cli.common import actor, add_command
from core.jobs import service as jobs
from core.jobs.kinds import KINDS
from core.jobs.worker import CHECK_SECONDS, POLL_SECONDS, TIMEOUT_SECONDS, WorkerOptions, serve


def add_commands(commands: argparse._SubParsersAction) -> None:
    about = "run the background jobs: retraining, reward-model training and scoring, when their thresholds are met"
    worker = commands.add_parser("worker", help=about, description=about)
    worker.set_defaults(run=_work)
    worker.add_argument("--poll", type=float, default=POLL_SECONDS, help="seconds between looks for work (default 5)")
    worker.add_argument(
        "--timeout",
        type=float,
        default=TIMEOUT_SECONDS,
        help="seconds without a heartbeat after which a running job counts as killed (default 120)",
    )
    worker.add_argument(
        "--check", type=float, default=CHECK_SECONDS, help="seconds between counts of what is new (default 60)"
    )
    worker.add_argument("--once", action="store_true", help="one pass (find lost jobs, queue, run one job), then exit")
    group = worker.add_subparsers(title="commands", metavar="COMMAND")

    configure = add_command(group, "configure", _configure, "change when a kind of background job starts (audited)")
    configure.add_argument("kind", choices=list(KINDS), help="the kind of job")
    configure.add_argument("--threshold", type=int, help="start it when this many new things wait")
    configure.add_argument("--every-hours", type=int, help="also start it this often when anything new waits")
    switch = configure.add_mutually_exclusive_group()
    switch.add_argument("--on", dest="enabled", action="store_const", const=True, help="let its trigger start it")
    switch.add_argument("--off", dest="enabled", action="store_const", const=False, help="never start it")
    configure.add_argument(
        "--auto-promote",
        choices=("on", "off"),
        help="moderation_retrain, reward_train: promote a new model that passes the promotion gate by itself (on)",
    )
    configure.add_argument(
        "--margin",
        type=float,
        help="the gate's margin: the loss of the metric allowed at the low end of the 95%% interval (default 0)",
    )
    status = add_command(group, "status", _status, "when each kind of job starts, and the latest jobs")
    status.add_argument("--limit", type=int, default=10, help="jobs shown (default 10)")


def _work(args: argparse.Namespace) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("core.jobs").setLevel(logging.INFO)  # what the worker does; the libraries only warn
    serve(options=WorkerOptions(poll=args.poll, timeout=args.timeout, check=args.check), once=args.once)


def _configure(args: argparse.Namespace) -> None:
    auto_promote = None if args.auto_promote is None else args.auto_promote == "on"
    done = jobs.configure(
        actor=actor(args),
        kind=args.kind,
        threshold=args.threshold,
        every_hours=args.every_hours,
        enabled=args.enabled,
        auto_promote=auto_promote,
        margin=args.margin,
    )
    print(f"{done.kind}: {done.describe()}")


def _status(args: argparse.Namespace) -> None:
    overview = jobs.jobs_overview(actor=actor(args), limit=args.limit)
    for kind in overview.settings:
        print(f"{kind.kind:<20} {kind.describe()}")
    if not overview.jobs:
        print("no jobs yet: `python -m core worker` runs them when they are due")
        return
    print(f"\n{'job':>5} {'kind':<20} {'status':<8} {'progress':>8} {'started (UTC)':<16} {'finished':<16} note")
    for job in overview.jobs:
        started = f"{job.started_at:%Y-%m-%d %H:%M}" if job.started_at else "–"
        finished = f"{job.finished_at:%Y-%m-%d %H:%M}" if job.finished_at else "–"
        note = job.error or job.reason
        print(f"{job.id:>5} {job.kind:<20} {job.status:<8} {job.fraction:>8.0%} {started:<16} {finished:<16} {note}")

"""`python -m core worker`: run the background jobs and the alerts; `worker configure` and `worker status`: when
the jobs start and how they went; `worker alerts` and `worker alerts configure`: the alerts, their delivery log and
their thresholds."""

from __future__ import annotations

import argparse
import logging

from core.cli.common import actor, add_command
from core.jobs import service as jobs
from core.jobs.alerts import THRESHOLDS
from core.jobs.kinds import KINDS
from core.jobs.worker import ALERT_CHECK_SECONDS, CHECK_SECONDS, POLL_SECONDS, TIMEOUT_SECONDS, WorkerOptions, serve


def add_commands(commands: argparse._SubParsersAction) -> None:
    about = (
        "run the background jobs (retraining, reward-model training and scoring) when their thresholds are met, and "
        "the alerts"
    )
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
    worker.add_argument(
        "--alert-check",
        type=float,
        default=ALERT_CHECK_SECONDS,
        help="seconds between checks of the alerts' conditions: SLA share, drift, sample ratio (default 300)",
    )
    worker.add_argument(
        "--once",
        action="store_true",
        help="one pass (find lost jobs, queue, run one job, check and send alerts), then exit",
    )
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

    alerts = add_command(group, "alerts", _alerts, "the alerts raised, their webhook delivery log and the thresholds")
    alerts.add_argument("--limit", type=int, default=10, help="alerts and delivery attempts shown (default 10)")
    alert_commands = alerts.add_subparsers(title="commands", metavar="COMMAND")
    thresholds = add_command(alert_commands, "configure", _configure_alerts, "change the alert thresholds (audited)")
    for name, threshold in THRESHOLDS.items():
        low, high = threshold.limits
        flag = "--" + name.replace("_", "-")
        thresholds.add_argument(
            flag, dest=name, type=float, help=f"{threshold.about} ({low:g} to {high:g}; default {threshold.default:g})"
        )


def _work(args: argparse.Namespace) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("core.jobs").setLevel(logging.INFO)  # what the worker does; the libraries only warn
    options = WorkerOptions(poll=args.poll, timeout=args.timeout, check=args.check, alert_check=args.alert_check)
    serve(options=options, once=args.once)


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


def _alerts(args: argparse.Namespace) -> None:
    overview = jobs.alerts_overview(actor=actor(args), limit=args.limit)
    if overview.problem:
        print(f"webhook refused: {overview.problem}")
    else:
        print(f"webhook: {overview.webhook or 'none (ALERT_WEBHOOK_URL unset): alerts show on the admins Home page'}")
    for t in overview.thresholds:
        print(f"{t.name:<12} {t.value:g}  {t.about}")
    if not overview.alerts:
        print("no alerts yet")
        return
    print(f"\n{'alert':>5} {'raised (UTC)':<16} {'status':<9} {'tries':>5} {'cleared':<16} summary")
    for a in overview.alerts:
        cleared = f"{a.cleared_at:%Y-%m-%d %H:%M}" if a.cleared_at else "–"
        print(f"{a.id:>5} {a.raised_at:%Y-%m-%d %H:%M} {a.status:<9} {a.attempts:>5} {cleared:<16} {a.summary}")
    if overview.deliveries:
        print(f"\n{'alert':>5} {'attempt':>7} {'at (UTC)':<19} {'seconds':>7} outcome")
        for d in overview.deliveries:
            print(f"{d.alert_id:>5} {d.attempt:>7} {d.at:%Y-%m-%d %H:%M:%S} {d.seconds:>7.2f} {d.outcome}")


def _configure_alerts(args: argparse.Namespace) -> None:
    values = {name: getattr(args, name) for name in THRESHOLDS}
    done = jobs.configure_alerts(actor=actor(args), **values)
    print(", ".join(f"{name} {value:g}" for name, value in done.items()))

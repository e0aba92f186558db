"""`python -m core queue ...`: the review queues' state and settings, gold items, and named assignment."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from datetime import date
from pathlib import Path

from core.cli.common import actor, add_command, add_group
from core.review import service as review
from core.review.active import STRATEGIES
from core.review.assignment import read_ids
from core.review.queues import DEFAULT_K


def add_commands(commands: argparse._SubParsersAction) -> None:
    group = add_group(commands, "queue", "review queues")
    status = add_command(
        group, "status", _status, "per queue: waiting, leased, done, gold items and share, provisional judgments"
    )
    status.add_argument(
        "--by-assignee",
        action="store_true",
        help="per queue and assigned reviewer instead: assigned, open, done, skipped, overdue, median seconds per item",
    )
    status.add_argument("--format", choices=("table", "json"), default="table")
    conf = add_command(group, "configure", _configure, "set which model versions a queue serves, k, gold share")
    conf.add_argument("queue", choices=list(DEFAULT_K))
    conf.add_argument("--versions", nargs="+", metavar="VERSION", help="model versions whose answers it serves")
    conf.add_argument("--k", type=int, help="judgments per item (overlap)")
    conf.add_argument("--gold-share", type=float, help="share of gold items mixed in, 0 to 0.5")
    conf.add_argument("--lease-minutes", type=int, help="how long a reviewer holds an item")
    conf.add_argument(
        "--per-dimension",
        choices=("on", "off"),
        help="comparison: also ask left/right/tie for helpfulness, harmlessness and accuracy",
    )
    conf.add_argument(
        "--strategy",
        choices=STRATEGIES,
        help="comparison: random serves every pair of versions alike (the default); active serves first the pairs "
        "that settle the leaderboard fastest",
    )
    conf.add_argument(
        "--prefer-uncertain",
        choices=("on", "off"),
        help="comparison, active: within a pair, the prompts the active reward model is least sure of come first",
    )
    conf.add_argument(
        "--qualify",
        type=int,
        metavar="N",
        help="qualification gate: gold items a reviewer new to the queue judges first (0: no gate; leads too)",
    )
    conf.add_argument("--pass-share", type=float, metavar="X", help="share of them to get right, above 0 up to 1")
    qualification = add_command(
        group, "qualification", _qualification, "per gated queue and reviewer: standing and provisional judgments"
    )
    qualification.add_argument("queue", nargs="?", choices=list(DEFAULT_K))
    qualification.add_argument("--format", choices=("table", "json"), default="table")
    for name, run, what in (
        ("allow-retry", _allow_retry, "let a reviewer who failed a queue's qualification try again"),
        ("release", _release, "count a paused reviewer's held judgments and qualify them again"),
        ("discard", _discard, "discard a paused reviewer's held judgments (kept for the audit trail); they requalify"),
    ):
        lead = add_command(group, name, run, what)
        lead.add_argument("queue", choices=list(DEFAULT_K))
        lead.add_argument("user", help="the reviewer's username")
    gold = add_command(group, "gold", _gold, "make a work item a gold item with a known answer (JSON)")
    gold.add_argument("work_item_id", type=int)
    gold.add_argument("answer", help='e.g. \'{"choice": "b"}\' or \'{"accuracy": 2}\'')
    assign = add_command(
        group,
        "assign",
        _assign,
        "assign open items of a queue to named reviewers, round robin, with an optional due day (they get them first, "
        "nobody else does until then)",
    )
    assign.add_argument("queue", choices=list(DEFAULT_K))
    assign.add_argument("--to", action="append", required=True, metavar="USER", help="a reviewer (repeat for more)")
    assign.add_argument("--count", type=int, metavar="N", help="how many items in all (default: every matching item)")
    assign.add_argument("--topic", help="only questions of this topic (rating, comparison)")
    assign.add_argument("--version", help="only answers of this model version (a pair: either answer)")
    assign.add_argument("--source", help="only items imported from this source")
    assign.add_argument("--due", type=_day, metavar="DAY", help="due by the end of this day, YYYY-MM-DD (UTC)")
    assign.add_argument("--ids", type=Path, metavar="FILE", help="a file of work item ids instead (one per line)")
    unassign = add_command(group, "unassign", _unassign, "take assignments back: their items return to the pool")
    unassign.add_argument("queue", choices=list(DEFAULT_K))
    unassign.add_argument("--from", dest="users", action="append", required=True, metavar="USER", help="repeatable")
    unassign.add_argument("--ids", type=Path, metavar="FILE", help="only these work items (default: all of theirs)")


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{text!r}: write the day as YYYY-MM-DD") from error


def _ids(path: Path | None) -> list[int] | None:
    if path is None:
        return None
    try:
        return read_ids(path.read_text(encoding="utf-8"), where=str(path))
    except OSError as error:
        raise ValueError(f"cannot read {path}: {error.strerror}") from error


def _status(args: argparse.Namespace) -> None:
    if args.by_assignee:
        return _by_assignee(args)
    rows = review.queue_overview(actor=actor(args)).status
    if args.format == "json":
        print(json.dumps([asdict(q) for q in rows], indent=2))
        return
    print(
        f"{'queue':<12} {'waiting':>9} {'leased':>7} {'done':>9} {'gold items':>10} {'gold share':>10} "
        f"{'provisional':>11}"
    )
    for q in rows:
        print(
            f"{q.queue:<12} {q.waiting:>9,} {q.leased:>7,} {q.done:>9,} {q.gold_items:>10,} {q.gold_share:>10.0%} "
            f"{q.provisional:>11,}"
        )


def _configure(args: argparse.Namespace) -> None:
    settings = (args.versions, args.k, args.gold_share, args.lease_minutes, args.per_dimension)
    if args.qualify is not None or args.pass_share is not None:
        saved = review.configure_gate(
            actor=actor(args), queue=args.queue, qualify=args.qualify, pass_share=args.pass_share
        )
        gate = f"{saved.qualify} gold items at {saved.pass_share:.0%} right" if saved.qualify else "off"
        print(f"{saved.queue}: qualification gate {gate}")
        if all(value is None for value in settings):
            return
    saved = review.configure_queue(
        actor=actor(args),
        queue=args.queue,
        versions=args.versions,
        k=args.k,
        gold_share=args.gold_share,
        lease_minutes=args.lease_minutes,
        per_dimension=None if args.per_dimension is None else args.per_dimension == "on",
        strategy=args.strategy,
        prefer_uncertain=None if args.prefer_uncertain is None else args.prefer_uncertain == "on",
    )
    print(
        f"{saved.queue}: versions {', '.join(saved.versions) or '(none)'}; k={saved.k}; "
        f"gold share {saved.gold_share:.0%}; leases of {saved.lease_minutes} min"
        + ("; per-dimension preferences on" if saved.per_dimension else "")
        + (f"; {saved.strategy} pairs" if saved.queue == "comparison" else "")
        + ("; least sure prompts first" if saved.prefer_uncertain else "")
    )


def _qualification(args: argparse.Namespace) -> None:
    rows = review.qualification_standings(actor=actor(args), queue=args.queue)
    if args.format == "json":
        print(json.dumps([asdict(s) for s in rows], indent=2))
        return
    print(f"{'queue':<12} {'user':<16} {'status':<10} {'attempt':>7} {'right':>9} {'provisional':>11}")
    for s in rows:
        right = f"{s.passed}/{s.judged}" if s.status in ("qualifying", "failed") else ""
        print(f"{s.queue:<12} {s.user:<16} {s.status:<10} {s.attempt:>7} {right:>9} {s.held:>11,}")


def _allow_retry(args: argparse.Namespace) -> None:
    review.allow_retry(actor=actor(args), queue=args.queue, user=args.user)
    print(f"{args.user} may qualify again on the {args.queue} queue")


def _release(args: argparse.Namespace) -> None:
    n = review.release_held(actor=actor(args), queue=args.queue, user=args.user)
    print(f"released {n:,} held judgments of {args.user} on the {args.queue} queue; {args.user} is qualified again")


def _discard(args: argparse.Namespace) -> None:
    n = review.discard_held(actor=actor(args), queue=args.queue, user=args.user)
    print(f"discarded {n:,} held judgments of {args.user} on the {args.queue} queue; {args.user} qualifies again")


def _gold(args: argparse.Namespace) -> None:
    try:
        answer = json.loads(args.answer)
    except json.JSONDecodeError as error:
        raise ValueError(f"the answer is not valid JSON: {error}") from error
    review.mark_gold(actor=actor(args), work_item_id=args.work_item_id, answer=answer)
    print(f"work item {args.work_item_id} is a gold item")


def _by_assignee(args: argparse.Namespace) -> None:
    rows = review.assignee_progress(actor=actor(args))
    if args.format == "json":
        print(json.dumps([asdict(p) for p in rows], indent=2))
        return
    print(
        f"{'queue':<12} {'user':<16} {'assigned':>8} {'open':>6} {'done':>6} {'skipped':>7} {'overdue':>7} "
        f"{'median s':>8}"
    )
    for p in rows:
        median = "" if p.median_seconds is None else f"{p.median_seconds:.0f}"
        print(
            f"{p.queue:<12} {p.user:<16} {p.assigned:>8,} {p.open:>6,} {p.done:>6,} {p.skipped:>7,} {p.overdue:>7,} "
            f"{median:>8}"
        )


def _assign(args: argparse.Namespace) -> None:
    done = review.assign(
        actor=actor(args),
        queue=args.queue,
        to=args.to,
        count=args.count,
        topic=args.topic,
        version=args.version,
        source=args.source,
        ids=_ids(args.ids),
        due=args.due,
    )
    print(done.summary())


def _unassign(args: argparse.Namespace) -> None:
    print(review.unassign(actor=actor(args), queue=args.queue, users=args.users, ids=_ids(args.ids)).summary())

"""`python -m core queue ...`: the review queues' state and settings, and gold items."""

from __future__ import annotations

import argparse
import json

from core.cli.common import actor, add_command, add_group
from core.review import service as review
from core.review.queues import DEFAULT_K


def add_commands(commands: argparse._SubParsersAction) -> None:
    group = add_group(commands, "queue", "review queues")
    add_command(group, "status", _status, "per queue: waiting, leased, done, gold items and share")
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
    gold = add_command(group, "gold", _gold, "make a work item a gold item with a known answer (JSON)")
    gold.add_argument("work_item_id", type=int)
    gold.add_argument("answer", help='e.g. \'{"choice": "b"}\' or \'{"accuracy": 2}\'')


def _status(args: argparse.Namespace) -> None:
    rows = review.queue_overview(actor=actor(args)).status
    print(f"{'queue':<12} {'waiting':>9} {'leased':>7} {'done':>9} {'gold items':>10} {'gold share':>10}")
    for q in rows:
        print(f"{q.queue:<12} {q.waiting:>9,} {q.leased:>7,} {q.done:>9,} {q.gold_items:>10,} {q.gold_share:>10.0%}")


def _configure(args: argparse.Namespace) -> None:
    saved = review.configure_queue(
        actor=actor(args),
        queue=args.queue,
        versions=args.versions,
        k=args.k,
        gold_share=args.gold_share,
        lease_minutes=args.lease_minutes,
        per_dimension=None if args.per_dimension is None else args.per_dimension == "on",
    )
    print(
        f"{saved.queue}: versions {', '.join(saved.versions) or '(none)'}; k={saved.k}; "
        f"gold share {saved.gold_share:.0%}; leases of {saved.lease_minutes} min"
        + ("; per-dimension preferences on" if saved.per_dimension else "")
    )


def _gold(args: argparse.Namespace) -> None:
    try:
        answer = json.loads(args.answer)
    except json.JSONDecodeError as error:
        raise ValueError(f"the answer is not valid JSON: {error}") from error
    review.mark_gold(actor=actor(args), work_item_id=args.work_item_id, answer=answer)
    print(f"work item {args.work_item_id} is a gold item")

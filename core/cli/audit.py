"""`python -m core audit ...`: the monthly audit sample, and the trail as CSV."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.cli.common import actor, add_command, add_group, range_arguments, time_range
from core.oversight import service as oversight
from core.oversight.trail import TrailFilter


def add_commands(commands: argparse._SubParsersAction) -> None:
    group = add_group(commands, "audit", "audits: the monthly audit sample, the audit trail")
    sample = add_command(
        group, "sample", _sample, "draw the month's stratified random sample of judgments (by queue and reviewer)"
    )
    sample.add_argument("--month", required=True, help="the month, YYYY-MM")
    sample.add_argument("--size", required=True, type=int, help="how many judgments to draw")
    sample.add_argument("--seed", type=int, help="random seed (default: the month as a number, e.g. 202603)")
    trail = add_command(group, "trail", _trail, "write the audit trail (or the events matching filters) as CSV")
    trail.add_argument("--actor", help="a username (or '(system)')")
    trail.add_argument("--action", help="e.g. rating.update")
    trail.add_argument("--entity", help="e.g. rating")
    trail.add_argument("--entity-id", type=int)
    range_arguments(trail)
    trail.add_argument("--output", "-o", help="file to write (default: standard output)")


def _sample(args: argparse.Namespace) -> None:
    summary = oversight.draw_sample(actor=actor(args), month=args.month, size=args.size, seed=args.seed)
    print(
        f"audit sample {summary.id} of {summary.month}: {summary.drawn:,} of {summary.population:,} judgments "
        f"(seed {summary.seed}); review it on the Audit sample page"
    )
    print(f"  {'queue':<13} {'reviewer':<24} {'drawn':>6} {'of':>8}")
    for x in summary.strata:
        print(f"  {x['queue']:<13} {x['reviewer']:<24} {x['drawn']:>6,} {x['population']:>8,}")


def _trail(args: argparse.Namespace) -> None:
    start, end = time_range(args)
    filters = TrailFilter(args.actor, args.action, args.entity, args.entity_id, start, end)
    out = Path(args.output) if args.output else sys.stdout
    written = oversight.write_trail(actor=actor(args), out=out, filters=filters)
    print(f"{written:,} events", file=sys.stderr)

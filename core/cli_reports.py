"""`python -m core report ...` (A/B reports of model versions and experiments) and `python -m core experiment ...`."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

from core.cli import add_command, add_group
from core.db import get_engine, session_scope
from core.reports.filters import Filters, ReportError

FORMATS = ("json", "csv", "html")


def add_commands(commands: argparse._SubParsersAction) -> None:
    group = add_group(commands, "report", "reports: A/B comparisons of model versions, online experiments")
    _add_ab(group)
    _add_experiment_report(group)
    experiments = add_group(commands, "experiment", "online experiments (their events come in with import)")
    plan = add_command(experiments, "plan", _experiment_plan, "set an experiment's planned split of units")
    plan.add_argument("name", help="the experiment")
    plan.add_argument("shares", nargs="+", metavar="VARIANT=SHARE", help="e.g. control=0.9 treatment=0.1")


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-11-01") from error


def _output_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=FORMATS, default="json", help="json (default), csv (every table) or html")
    parser.add_argument("--out", help="write to this file instead of standard output")


def _add_ab(group: argparse._SubParsersAction) -> None:
    ab = add_command(group, "ab", _report_ab, "compare two chatbot or two moderation versions (verdict, tables)")
    ab.add_argument("--a", required=True, metavar="VERSION", help="the baseline version")
    ab.add_argument("--b", required=True, metavar="VERSION", help="the candidate version")
    ab.add_argument("--since", type=_day, metavar="DATE", help="first day (UTC) of judgments or items counted")
    ab.add_argument("--until", type=_day, metavar="DATE", help="last day (UTC), included")
    ab.add_argument("--topic", help="chatbot versions: only prompts of this topic")
    _output_options(ab)


def _add_experiment_report(group: argparse._SubParsersAction) -> None:
    report = add_command(group, "experiment", _report_experiment, "an online experiment: rates, differences, SRM")
    report.add_argument("name", help="the experiment")
    _output_options(report)


def _write(report, args: argparse.Namespace) -> None:
    from core.reports import export

    body = {"json": export.dumps, "csv": lambda r: export.to_csv(r).decode(), "html": export.to_html}[args.format]
    text = body(report)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"wrote {args.out} ({args.format}, {len(text.encode()):,} bytes)", file=sys.stderr)
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")


def _report_ab(args: argparse.Namespace) -> None:
    from core.reports.ab import compare_versions

    with session_scope(get_engine()) as session:
        report = compare_versions(session, Filters(args.a, args.b, args.since, args.until, args.topic))
    _write(report, args)


def _report_experiment(args: argparse.Namespace) -> None:
    from core.reports.experiments import experiment_report

    with session_scope(get_engine()) as session:
        report = experiment_report(session, args.name)
    _write(report, args)


def _experiment_plan(args: argparse.Namespace) -> None:
    from core.experiments import plan_split

    split = {}
    for share in args.shares:
        variant, _, value = share.partition("=")
        try:
            split[variant.strip()] = float(value)
        except ValueError as error:
            raise ReportError(f"{share!r}: write VARIANT=SHARE, e.g. control=0.9") from error
    with session_scope(get_engine(), write=True) as session:
        planned = plan_split(session, name=args.name, split=split, actor_id=None)
    print(f"{args.name}: planned split " + ", ".join(f"{v} {s:.0%}" for v, s in planned.items()))

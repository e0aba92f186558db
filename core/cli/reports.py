"""`python -m core report ...` (A/B reports of model versions and experiments; the audit and KPI reports come from
core.cli.audit) and `python -m core experiment ...`."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path

from core.cli.common import actor, add_command, add_group, range_arguments, time_range
from core.reports import service as reports
from core.reports.filters import Filters, ReportError

FORMATS = ("json", "csv", "html")
TABLE_FORMATS = ("json", "csv")


def add_commands(commands: argparse._SubParsersAction) -> None:
    group = add_group(
        commands, "report", "reports: A/B comparisons of model versions, online experiments, audits, KPIs"
    )
    _add_ab(group)
    _add_experiment_report(group)
    _add_audit_and_kpi(group)
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
    from core.reports.ab import export

    body = {"json": export.dumps, "csv": lambda r: export.to_csv(r).decode(), "html": export.to_html}[args.format]
    text = body(report)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"wrote {args.out} ({args.format}, {len(text.encode()):,} bytes)", file=sys.stderr)
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")


def _report_ab(args: argparse.Namespace) -> None:
    filters = Filters(args.a, args.b, args.since, args.until, args.topic)
    _write(reports.ab_report(actor=actor(args), filters=filters), args)


def _report_experiment(args: argparse.Namespace) -> None:
    _write(reports.experiment_report(actor=actor(args), name=args.name), args)


def _experiment_plan(args: argparse.Namespace) -> None:
    split = {}
    for share in args.shares:
        variant, _, value = share.partition("=")
        try:
            split[variant.strip()] = float(value)
        except ValueError as error:
            raise ReportError(f"{share!r}: write VARIANT=SHARE, e.g. control=0.9") from error
    planned = reports.plan_experiment(actor=actor(args), name=args.name, split=split)
    print(f"{args.name}: planned split " + ", ".join(f"{v} {s:.0%}" for v, s in planned.items()))


def _add_audit_and_kpi(group: argparse._SubParsersAction) -> None:
    audit = add_command(group, "audit", _report_audit, "agreement, audit pass rates and flags, as JSON or CSV")
    audit.add_argument("--format", choices=TABLE_FORMATS, default="json")
    range_arguments(audit)
    kpi = add_command(
        group, "kpi", _report_kpi, "the KPI dashboard's numbers (loop latency per version too), as JSON or CSV"
    )
    kpi.add_argument("--format", choices=TABLE_FORMATS, default="json")
    range_arguments(kpi)
    kpi.add_argument("--sla-hours", type=float, default=None, help="turnaround target in hours (default 48)")
    kpi.add_argument(
        "--loop-sla-hours",
        type=float,
        default=None,
        help="loop-latency target in hours, arrival to a version that learned from the item (default 72)",
    )


def _emit(args: argparse.Namespace, data: dict, rows) -> None:
    if args.format == "json":
        print(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        from core.reports.csv_safe import write_csv
        from core.reports.flat import CSV_HEADER

        write_csv(sys.stdout, CSV_HEADER, rows)


def _report_audit(args: argparse.Namespace) -> None:
    from core.reports.audit.report import audit_csv_rows, audit_json

    start, end = time_range(args)
    report = reports.audit_report(actor=actor(args), start=start, end=end)
    _emit(args, audit_json(report) if args.format == "json" else {}, audit_csv_rows(report))


def _report_kpi(args: argparse.Namespace) -> None:
    from core.reports.kpi.report import kpi_csv_rows, kpi_json

    start, end = time_range(args)
    report = reports.kpi(
        actor=actor(args), start=start, end=end, sla_hours=args.sla_hours, loop_sla_hours=args.loop_sla_hours
    )
    _emit(args, kpi_json(report) if args.format == "json" else {}, kpi_csv_rows(report))

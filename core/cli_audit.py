"""`python -m core audit ...` (the monthly audit sample, the trail as CSV) and the `report audit` and `report kpi`
commands (added to the `report` group by core.cli_reports)."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime, timedelta

from core.cli import add_command, add_group
from core.db import get_engine, session_scope

FORMATS = ("json", "csv")


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
    _range_arguments(trail)
    trail.add_argument("--output", "-o", help="file to write (default: standard output)")


def add_report_commands(group: argparse._SubParsersAction) -> None:
    audit = add_command(group, "audit", _report_audit, "agreement, audit pass rates and flags, as JSON or CSV")
    audit.add_argument("--format", choices=FORMATS, default="json")
    _range_arguments(audit)
    kpi = add_command(group, "kpi", _report_kpi, "the KPI dashboard's numbers, as JSON or CSV")
    kpi.add_argument("--format", choices=FORMATS, default="json")
    _range_arguments(kpi)
    kpi.add_argument("--sla-hours", type=float, default=None, help="turnaround target in hours (default 48)")


def _range_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="start", help="first day, YYYY-MM-DD (UTC)")
    parser.add_argument("--to", dest="end", help="last day, YYYY-MM-DD (UTC), included")


def _day(text: str | None, name: str) -> datetime | None:
    if text is None:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError as error:
        raise ValueError(f"{name} {text!r}: write the day as YYYY-MM-DD") from error


def _range(args: argparse.Namespace) -> tuple[datetime | None, datetime | None]:
    start, last = _day(args.start, "--from"), _day(args.end, "--to")
    return start, (last + timedelta(days=1) if last else None)


def _sample(args: argparse.Namespace) -> None:
    from core.audit_sample import draw_sample

    with session_scope(get_engine(), write=True) as session:
        summary = draw_sample(session, month=args.month, size=args.size, seed=args.seed, actor_id=None)
    print(
        f"audit sample {summary.id} of {summary.month}: {summary.drawn:,} of {summary.population:,} judgments "
        f"(seed {summary.seed}); review it on the Audit sample page"
    )
    print(f"  {'queue':<13} {'reviewer':<24} {'drawn':>6} {'of':>8}")
    for x in summary.strata:
        print(f"  {x['queue']:<13} {x['reviewer']:<24} {x['drawn']:>6,} {x['population']:>8,}")


def _trail(args: argparse.Namespace) -> None:
    from core.reports.trail import TrailFilter, write_trail_csv

    start, end = _range(args)
    filters = TrailFilter(args.actor, args.action, args.entity, args.entity_id, start, end)
    out = open(args.output, "w", encoding="utf-8", newline="") if args.output else sys.stdout  # noqa: SIM115
    try:
        with session_scope(get_engine()) as session:
            written = write_trail_csv(session, out, filters)
    finally:
        if args.output:
            out.close()
    print(f"{written:,} events", file=sys.stderr)


def _emit(args: argparse.Namespace, data: dict, rows) -> None:
    if args.format == "json":
        print(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        from core.reports.csv_safe import write_csv
        from core.reports.flat import CSV_HEADER

        write_csv(sys.stdout, CSV_HEADER, rows)


def _report_audit(args: argparse.Namespace) -> None:
    from core.reports.audit import audit_csv_rows, audit_json, audit_report

    start, end = _range(args)
    with session_scope(get_engine()) as session:
        report = audit_report(session, start=start, end=end)
    _emit(args, audit_json(report) if args.format == "json" else {}, audit_csv_rows(report))


def _report_kpi(args: argparse.Namespace) -> None:
    from core.reports.kpi import DEFAULT_SLA_HOURS, default_range, kpi_csv_rows, kpi_json, kpi_report

    start, end = _range(args)
    if start is None or end is None:
        default_start, default_end = default_range()
        start, end = start or default_start, end or default_end
    with session_scope(get_engine()) as session:
        report = kpi_report(session, start=start, end=end, sla_hours=args.sla_hours or DEFAULT_SLA_HOURS)
    _emit(args, kpi_json(report) if args.format == "json" else {}, kpi_csv_rows(report))

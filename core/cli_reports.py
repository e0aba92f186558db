"""`python -m core report ...`: every report as JSON or CSV. Each area adds its commands to the group."""

from __future__ import annotations

import argparse

from core.cli import add_group


def add_commands(commands: argparse._SubParsersAction) -> None:
    from core.cli_audit import add_report_commands

    group = add_group(commands, "report", "reports as JSON or CSV")
    add_report_commands(group)

"""What every command module shares: adding commands and groups, the acting user, a progress bar, a range of days."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from core.accounts.service import command_line_user
from core.auth import UserPublic


def add_command(commands: argparse._SubParsersAction, name: str, run: Callable, help: str) -> argparse.ArgumentParser:
    """A subcommand that runs `run(args)`; its return value is the exit code (None: 0). Every command takes --as."""
    sub = commands.add_parser(name, help=help, description=help)
    sub.set_defaults(run=run)
    sub.add_argument(
        "--as",
        dest="as_user",
        metavar="USER",
        default=argparse.SUPPRESS,
        help="act as this user (default: CLI_USER, else the store's only active admin)",
    )
    return sub


def add_group(commands: argparse._SubParsersAction, name: str, help: str) -> argparse._SubParsersAction:
    """A command with subcommands of its own (`python -m core NAME SUBCOMMAND`)."""
    group = commands.add_parser(name, help=help, description=help)
    return group.add_subparsers(title="commands", metavar="COMMAND")


def actor(args: argparse.Namespace) -> UserPublic:
    """The user the command acts as: checked and audited like anyone signed in to the app."""
    return command_line_user(getattr(args, "as_user", None))


@contextmanager
def progress_bar(desc: str, unit: str) -> Iterator[Callable[[int, int], None]]:
    """A tqdm bar on standard error, drawn from the first report of progress (done, total) on."""
    from tqdm import tqdm

    bar = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        bar = bar or tqdm(total=total, unit=unit, unit_scale=True, desc=desc, file=sys.stderr, leave=False)
        bar.total = total
        bar.update(done - bar.n)

    try:
        yield progress
    finally:
        if bar is not None:
            bar.close()


def range_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="start", help="first day, YYYY-MM-DD (UTC)")
    parser.add_argument("--to", dest="end", help="last day, YYYY-MM-DD (UTC), included")


def _day(text: str | None, name: str) -> datetime | None:
    if text is None:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError as error:
        raise ValueError(f"{name} {text!r}: write the day as YYYY-MM-DD") from error


def time_range(args: argparse.Namespace) -> tuple[datetime | None, datetime | None]:
    start, last = _day(args.start, "--from"), _day(args.end, "--to")
    return start, (last + timedelta(days=1) if last else None)

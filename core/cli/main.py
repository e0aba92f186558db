"""`python -m core <command>`: a thin layer that parses, calls one service function and prints.

Each area's commands live in a module of their own (core/cli/<area>.py, with an `add_commands(commands)`); a
command acts as a named user (`--as USER`, CLI_USER, else the store's only active admin), checked and audited as
anyone signed in to the app."""

from __future__ import annotations

import argparse
import sys

from sqlalchemy.exc import InterfaceError, OperationalError

from core.accounts import AuthError
from core.auth import Forbidden
from core.cli import audit, comments, imports, labelstudio, moderation, queues, reports, reward, store, users, worker
from core.jobs import JobError
from core.labelstudio.client import LabelStudioError
from core.moderation import ModerationError
from core.oversight.comments import CommentError
from core.oversight.flags import FlagError
from core.oversight.samples import SampleError
from core.reports.filters import ReportError
from core.review.judgments import FeedbackError
from core.review.qualification import QualificationError
from core.review.queues import QueueError
from core.reward import RewardError
from core.store.backup import BackupError
from core.store.db import StoreError, get_engine, store_error

# Refusals a person can act on: printed as one line, exit code 1.
REFUSALS = (
    Forbidden,
    AuthError,
    StoreError,
    QueueError,
    QualificationError,
    FeedbackError,
    ModerationError,
    LabelStudioError,
    ReportError,
    SampleError,
    FlagError,
    CommentError,
    RewardError,
    BackupError,
    JobError,
    ValueError,
)
COMMAND_MODULES = (store, imports, queues, users, moderation, labelstudio, reports, audit, comments, reward, worker)


def main(argv: list[str] | None = None) -> int:
    parser = parser_of_commands()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    try:
        return args.run(args) or 0
    except REFUSALS as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except (OperationalError, InterfaceError) as error:  # outside a transaction (the schema upgrade)
        message = store_error(error, get_engine())
        print(f"error: {message} If it is the wrong store, check DATABASE_URL", file=sys.stderr)
        return 1


def parser_of_commands() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m core", description="Human-evaluation workbench commands.")
    parser.add_argument(
        "--as",
        dest="as_user",
        metavar="USER",
        default=None,
        help="act as this user (default: CLI_USER, else the store's only active admin)",
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.add_commands(commands)
    return parser

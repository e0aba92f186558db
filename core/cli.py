"""`python -m core <command>`: a thin layer that parses, calls one core function and prints.

Each area's commands live in a module of their own (`core/cli_<area>.py`, with an `add_commands(commands)` that adds
its parsers with `add_command`); `_parser` lists those modules once."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Callable

from sqlalchemy.exc import InterfaceError, OperationalError

from core import auth, queues
from core.audit_sample import SampleError
from core.backup import BackupError
from core.db import StoreError, get_engine, session_scope, store_error, upgrade_schema
from core.labelstudio.client import LabelStudioError
from core.models import ROLES
from core.moderation import ModerationError
from core.queues import DEFAULT_K
from core.reports.filters import ReportError
from core.reward import RewardError


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    try:
        return args.run(args) or 0
    except (
        StoreError,
        auth.AuthError,
        queues.QueueError,
        ModerationError,
        LabelStudioError,
        ReportError,
        SampleError,
        RewardError,
        BackupError,
        ValueError,
    ) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except (OperationalError, InterfaceError) as error:  # outside a session_scope (the schema upgrade)
        message = store_error(error, get_engine())
        print(f"error: {message} If it is the wrong store, check DATABASE_URL", file=sys.stderr)
        return 1


def add_command(commands: argparse._SubParsersAction, name: str, run: Callable, help: str) -> argparse.ArgumentParser:
    """A subcommand that runs `run(args)`; its return value is the exit code (None: 0)."""
    sub = commands.add_parser(name, help=help, description=help)
    sub.set_defaults(run=run)
    return sub


def add_group(commands: argparse._SubParsersAction, name: str, help: str) -> argparse._SubParsersAction:
    """A command with subcommands of its own (`python -m core NAME SUBCOMMAND`)."""
    group = commands.add_parser(name, help=help, description=help)
    return group.add_subparsers(title="commands", metavar="COMMAND")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m core", description="Human-evaluation workbench commands.")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    def command(name: str, run: Callable, help: str) -> argparse.ArgumentParser:
        return add_command(commands, name, run, help)

    command("init", _init, "create the store or upgrade its schema to the newest migration")

    demo = command("demo", _demo, "load the demo dataset (users, answers, moderation items, judgments)")
    demo.add_argument("--if-empty", action="store_true", help="load only when the store holds no data yet")
    demo.add_argument("--seed", type=int, default=7, help="random seed (default 7)")

    from core.ingest import KINDS

    imp = command("import", _import, "import a file (refused whole, with line numbers, if any row is bad)")
    imp.add_argument("kind", choices=list(KINDS), help="the file's format: " + ", ".join(KINDS))
    imp.add_argument("file", help="path of the file")
    imp.add_argument(
        "--mask-pii",
        action="store_true",
        help="mask e-mail addresses, phone numbers and tax ids in the texts ([EMAIL], [PHONE], [TAX_ID])",
    )

    queue_commands = add_group(commands, "queue", "review queues")
    queue_commands.add_parser("status", help="per queue: waiting, leased, done, gold items and share").set_defaults(
        run=_queue_status
    )
    conf = queue_commands.add_parser("configure", help="set which model versions a queue serves, k, gold share")
    conf.set_defaults(run=_queue_configure)
    conf.add_argument("queue", choices=list(DEFAULT_K))
    conf.add_argument("--versions", nargs="+", metavar="VERSION", help="model versions whose answers it serves")
    conf.add_argument("--k", type=int, help="judgments per item (overlap)")
    conf.add_argument("--gold-share", type=float, help="share of gold items mixed in, 0 to 0.5")
    conf.add_argument("--lease-minutes", type=int, help="how long a reviewer holds an item")
    gold = queue_commands.add_parser("gold", help="make a work item a gold item with a known answer (JSON)")
    gold.set_defaults(run=_queue_gold)
    gold.add_argument("work_item_id", type=int)
    gold.add_argument("answer", help='e.g. \'{"choice": "b"}\' or \'{"accuracy": 2}\'')

    user_commands = add_group(commands, "users", "manage users")
    add = user_commands.add_parser("add", help="add a user; the password is read from a prompt or stdin")
    add.set_defaults(run=_users_add)
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--display-name", default="")
    add.add_argument("--email", default=None)
    user_commands.add_parser("list", help="list users and their roles").set_defaults(run=_users_list)

    from core import cli_moderation

    cli_moderation.add_commands(commands)

    from core import cli_labelstudio

    cli_labelstudio.add_commands(commands)

    from core import cli_audit, cli_backup, cli_reports, cli_reward  # they import add_command and add_group from here

    cli_reports.add_commands(commands)
    cli_audit.add_commands(commands)
    cli_reward.add_commands(commands)
    cli_backup.add_commands(commands)
    return parser


def _init(_args: argparse.Namespace) -> None:
    upgrade_schema(get_engine())
    print(f"store ready: {get_engine().url.render_as_string(hide_password=True)}")


def _demo(args: argparse.Namespace) -> None:
    from core.demo import load_demo, store_is_empty

    engine = get_engine()
    upgrade_schema(engine)
    if args.if_empty and not store_is_empty(engine):
        print("the store holds data already: demo not loaded")
        return
    print(load_demo(engine, seed=args.seed).line())


def _import(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from core.ingest import ImportRefused, import_file

    bar = tqdm(total=0, unit="B", unit_scale=True, desc=f"import {args.kind}", file=sys.stderr, leave=False)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    try:
        summary = import_file(args.file, args.kind, engine=get_engine(), progress=progress, mask_pii=args.mask_pii)
    except ImportRefused as refused:
        bar.close()
        print(f"refused {refused.file_name}: nothing was imported", file=sys.stderr)
        for line in refused.lines():
            print(f"  {line}", file=sys.stderr)
        return 1
    bar.close()
    print(summary.line())
    return 0


def _queue_status(_args: argparse.Namespace) -> None:
    with session_scope(get_engine()) as session:
        rows = queues.queue_status(session)
    print(f"{'queue':<12} {'waiting':>9} {'leased':>7} {'done':>9} {'gold items':>10} {'gold share':>10}")
    for q in rows:
        print(f"{q.queue:<12} {q.waiting:>9,} {q.leased:>7,} {q.done:>9,} {q.gold_items:>10,} {q.gold_share:>10.0%}")


def _queue_configure(args: argparse.Namespace) -> None:
    with session_scope(get_engine(), write=True) as session:
        config = queues.configure(
            session,
            queue=args.queue,
            actor_id=None,
            versions=args.versions,
            k=args.k,
            gold_share=args.gold_share,
            lease_minutes=args.lease_minutes,
        )
        print(
            f"{config.name}: versions {', '.join(config.versions) or '(none)'}; k={config.k}; "
            f"gold share {config.gold_share:.0%}; leases of {config.lease_minutes} min"
        )


def _queue_gold(args: argparse.Namespace) -> None:
    try:
        answer = json.loads(args.answer)
    except json.JSONDecodeError as error:
        raise ValueError(f"the answer is not valid JSON: {error}") from error
    with session_scope(get_engine(), write=True) as session:
        queues.mark_gold(session, work_item_id=args.work_item_id, answer=answer, actor_id=None)
    print(f"work item {args.work_item_id} is a gold item")


def _users_add(args: argparse.Namespace) -> None:
    if sys.stdin.isatty():
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            raise auth.AuthError("the two passwords differ")
    else:
        password = sys.stdin.readline().rstrip("\n")
    with session_scope(get_engine(), write=True) as session:
        user = auth.create_user(
            session,
            username=args.username,
            role=args.role,
            password=password,
            display_name=args.display_name,
            email=args.email,
        )
    print(f"user {user.username} ({user.role}) is active")


def _users_list(_args: argparse.Namespace) -> None:
    with session_scope(get_engine()) as session:
        for user in auth.list_users(session):
            print(f"{user.username:<24} {user.role:<14} {'active' if user.active else 'inactive'}")

"""Label Studio commands: `labelstudio push`, `labelstudio pull` and `export labelstudio`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.cli.common import actor, add_command, add_group, progress_bar
from core.ingest import ImportRefused
from core.labelstudio import service as labelstudio
from core.labelstudio.sync import TITLES
from core.labelstudio.tasks import QUEUES


def add_commands(commands: argparse._SubParsersAction) -> None:
    group = add_group(
        commands, "labelstudio", "sync with a Label Studio server (LABEL_STUDIO_URL, LABEL_STUDIO_API_KEY)"
    )
    push = add_command(group, "push", _push, "send a queue's open items to a Label Studio project as tasks")
    push.add_argument("--queue", choices=QUEUES, default="moderation", help="the queue to send (default moderation)")
    pull = add_command(group, "pull", _pull, "bring a Label Studio project's annotations back as labels or ratings")
    pull.add_argument("--queue", choices=QUEUES, default="moderation", help="whose project (default moderation)")
    for command in (push, pull):
        command.add_argument("--project", metavar="TITLE", help=f"project title (default: the queue's, {TITLES})")

    export = add_group(commands, "export", "write files for other tools")
    out = add_command(export, "labelstudio", _export, "write a queue's open items as a Label Studio import file")
    out.add_argument("--queue", choices=QUEUES, default="moderation", help="the queue to write (default moderation)")
    out.add_argument("--out", type=Path, metavar="FILE", help="the file to write (default: standard output)")


def _title(args: argparse.Namespace) -> str:
    return args.project or TITLES[args.queue]


def _push(args: argparse.Namespace) -> None:
    who = actor(args)
    with progress_bar("push", "task") as progress:
        summary = labelstudio.push(actor=who, queue=args.queue, title=_title(args), progress=progress)
    print(summary.line())


def _pull(args: argparse.Namespace) -> int:
    who = actor(args)
    try:
        with progress_bar("pull", "B") as progress:
            summary = labelstudio.pull(actor=who, title=_title(args), progress=progress)
    except ImportRefused as refused:
        print(
            f"refused {refused.file_name}: nothing was imported; fix these annotations in Label Studio",
            file=sys.stderr,
        )
        for line in refused.lines():
            print(f"  {line}", file=sys.stderr)
        return 1
    print(summary.line())
    return 0


def _export(args: argparse.Namespace) -> None:
    count = labelstudio.write_import_file(actor=actor(args), queue=args.queue, out=args.out or sys.stdout)
    if args.out:
        print(f"{args.out}: {count:,} tasks (import it in Label Studio's project: Import > Upload files)")

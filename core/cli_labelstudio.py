"""Label Studio commands: `labelstudio push`, `labelstudio pull` and `export labelstudio`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.cli import add_command, add_group
from core.db import get_engine
from core.labelstudio.tasks import QUEUES


def add_commands(commands: argparse._SubParsersAction) -> None:
    from core.labelstudio.sync import DEFAULT_TITLE

    group = add_group(
        commands, "labelstudio", "sync with a Label Studio server (LABEL_STUDIO_URL, LABEL_STUDIO_API_KEY)"
    )
    push = add_command(group, "push", _push, "send a queue's open items to a Label Studio project as tasks")
    push.add_argument("--queue", choices=QUEUES, default="moderation", help="the queue to send (default moderation)")
    push.add_argument("--project", default=DEFAULT_TITLE, metavar="TITLE", help=f"project title ({DEFAULT_TITLE!r})")
    pull = add_command(group, "pull", _pull, "bring a Label Studio project's annotations back as labels")
    pull.add_argument("--project", default=DEFAULT_TITLE, metavar="TITLE", help=f"project title ({DEFAULT_TITLE!r})")

    export = add_group(commands, "export", "write files for other tools")
    out = add_command(export, "labelstudio", _export, "write a queue's open items as a Label Studio import file")
    out.add_argument("--queue", choices=QUEUES, default="moderation", help="the queue to write (default moderation)")
    out.add_argument("--out", type=Path, metavar="FILE", help="the file to write (default: standard output)")


class _Bar:
    """A tqdm bar on stderr, shown from the first report of progress (not before a configuration error)."""

    def __init__(self, desc: str, unit: str) -> None:
        self.desc, self.unit, self.bar = desc, unit, None

    def __call__(self, done: int, total: int) -> None:
        from tqdm import tqdm

        if self.bar is None:
            self.bar = tqdm(total=total, unit=self.unit, desc=self.desc, file=sys.stderr, leave=False)
        self.bar.total = total
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _push(args: argparse.Namespace) -> None:
    from core.labelstudio.sync import push

    bar = _Bar("push", "task")
    try:
        summary = push(queue=args.queue, title=args.project, engine=get_engine(), progress=bar)
    finally:
        bar.close()
    print(summary.line())


def _pull(args: argparse.Namespace) -> int:
    from core.ingest import ImportRefused
    from core.labelstudio.sync import pull

    bar = _Bar("pull", "B")
    try:
        summary = pull(title=args.project, engine=get_engine(), progress=bar)
    except ImportRefused as refused:
        print(
            f"refused {refused.file_name}: no label was imported; fix these annotations in Label Studio",
            file=sys.stderr,
        )
        for line in refused.lines():
            print(f"  {line}", file=sys.stderr)
        return 1
    finally:
        bar.close()
    print(summary.line())
    return 0


def _export(args: argparse.Namespace) -> None:
    from core.labelstudio.tasks import write_import_file

    count = write_import_file(get_engine(), args.queue, args.out or sys.stdout)
    if args.out:
        print(f"{args.out}: {count:,} tasks (import it in Label Studio's project: Import > Upload files)")

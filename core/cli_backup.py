"""`python -m core backup` and `python -m core restore`: the whole store to a folder and back (core/backup.py)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from core.cli import add_command
from core.db import get_engine


def add_commands(commands: argparse._SubParsersAction) -> None:
    out = add_command(commands, "backup", _backup, "write the whole store to a new folder from one consistent snapshot")
    out.add_argument("--out", required=True, metavar="DIR", help="a new (or empty) folder for the backup")
    back = add_command(commands, "restore", _restore, "restore a backup into an empty store, all or nothing")
    back.add_argument("folder", metavar="DIR", help="the backup's folder (the one holding manifest.json)")


def _backup(args: argparse.Namespace) -> None:
    from core.backup import backup

    with _bar("backup") as progress:
        summary = backup(get_engine(), args.out, progress=progress)
    print(f"backed up {summary.line()}")


def _restore(args: argparse.Namespace) -> None:
    from core.backup import restore

    with _bar("restore") as progress:
        summary = restore(get_engine(), args.folder, progress=progress)
    url = get_engine().url.render_as_string(hide_password=True)
    print(f"restored {summary.line()} into {url}")


@contextmanager
def _bar(desc: str) -> Iterator[Callable[[int, int], None]]:
    from tqdm import tqdm

    bar = tqdm(total=0, unit=" rows", unit_scale=True, desc=desc, file=sys.stderr, leave=False)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    try:
        yield progress
    finally:
        bar.close()

"""`python -m core init`, `demo`, `backup` and `restore`: the store itself.

`init`, `demo` and `restore` work on a store that may hold no user yet, so they act as nobody; `backup` reads
everything and acts as an admin."""

from __future__ import annotations

import argparse

from core.cli.common import actor, add_command, progress_bar
from core.store import service as store
from core.store.db import get_engine, upgrade_schema


def add_commands(commands: argparse._SubParsersAction) -> None:
    add_command(commands, "init", _init, "create the store or upgrade its schema to the newest migration")
    demo = add_command(commands, "demo", _demo, "load the demo dataset (users, answers, moderation items, judgments)")
    demo.add_argument("--if-empty", action="store_true", help="load only when the store holds no data yet")
    demo.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    out = add_command(commands, "backup", _backup, "write the whole store to a new folder from one consistent snapshot")
    out.add_argument("--out", required=True, metavar="DIR", help="a new (or empty) folder for the backup")
    back = add_command(commands, "restore", _restore, "restore a backup into an empty store, all or nothing")
    back.add_argument("folder", metavar="DIR", help="the backup's folder (the one holding manifest.json)")


def _where() -> str:
    return get_engine().url.render_as_string(hide_password=True)


def _init(_args: argparse.Namespace) -> None:
    upgrade_schema(get_engine())
    print(f"store ready: {_where()}")


def _demo(args: argparse.Namespace) -> None:
    from core.demo.load import load_demo, store_is_empty

    engine = get_engine()
    upgrade_schema(engine)
    if args.if_empty and not store_is_empty(engine):
        print("the store holds data already: demo not loaded")
        return
    print(load_demo(engine, seed=args.seed).line())


def _backup(args: argparse.Namespace) -> None:
    with progress_bar("backup", " rows") as progress:
        summary = store.backup(actor=actor(args), folder=args.out, progress=progress)
    print(f"backed up {summary.line()}")


def _restore(args: argparse.Namespace) -> None:
    from core.store.backup import restore

    with progress_bar("restore", " rows") as progress:
        summary = restore(get_engine(), args.folder, progress=progress)
    print(f"restored {summary.line()} into {_where()}")

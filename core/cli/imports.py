"""`python -m core import KIND FILE`: import a file, refused whole with its line numbers if any row is bad."""

from __future__ import annotations

import argparse
import sys

from core.cli.common import actor, add_command, progress_bar
from core.ingest import KINDS, ImportRefused
from core.ingest.service import import_data


def add_commands(commands: argparse._SubParsersAction) -> None:
    imp = add_command(
        commands, "import", _import, "import a file (refused whole, with line numbers, if any row is bad)"
    )
    imp.add_argument("kind", choices=list(KINDS), help="the file's format: " + ", ".join(KINDS))
    imp.add_argument("file", help="path of the file")
    imp.add_argument(
        "--mask-pii",
        action="store_true",
        help="mask e-mail addresses, phone numbers and tax ids in the texts ([EMAIL], [PHONE], [TAX_ID])",
    )


def _import(args: argparse.Namespace) -> int:
    who = actor(args)
    try:
        with progress_bar(f"import {args.kind}", "B") as progress:
            summary = import_data(actor=who, path=args.file, kind=args.kind, mask_pii=args.mask_pii, progress=progress)
    except ImportRefused as refused:
        print(f"refused {refused.file_name}: nothing was imported", file=sys.stderr)
        for line in refused.lines():
            print(f"  {line}", file=sys.stderr)
        return 1
    print(summary.line())
    return 0

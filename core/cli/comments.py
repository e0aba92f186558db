"""`python -m core comment ...`: the comment thread of an answer, a pair of answers or a moderation item."""

from __future__ import annotations

import argparse
import sys

from core.cli.common import actor, add_command, add_group
from core.oversight import service as oversight
from core.oversight.comments import item_name, parse_item

ITEM_HELP = "the item: answer:ID, pair:ID,ID or moderation_item:ID (store ids, as the pages and the trail show them)"


def add_commands(commands: argparse._SubParsersAction) -> None:
    group = add_group(commands, "comment", "comment threads on answers, pairs and moderation items")
    add = add_command(group, "add", _add, "add a comment to an item's thread (plain text; @username mentions)")
    add.add_argument("item", help=ITEM_HELP)
    add.add_argument("text", help="the comment; '-' reads it from standard input")
    listed = add_command(group, "list", _list, "print an item's thread, oldest comment first")
    listed.add_argument("item", help=ITEM_HELP)


def _add(args: argparse.Namespace) -> None:
    text = sys.stdin.read() if args.text == "-" else args.text
    item = parse_item(args.item)
    comment = oversight.add_comment(actor=actor(args), item=item, text=text)
    mentions = f", mentioning {', '.join('@' + name for name in comment.mentions)}" if comment.mentions else ""
    print(f"comment {comment.id} on {item_name(item)}{mentions}")


def _list(args: argparse.Namespace) -> None:
    item = parse_item(args.item)
    thread = oversight.threads(actor=actor(args), items=[item])[item]
    if thread.hidden:
        print(f"The thread on {item_name(item)} shows once you have judged it.")
        return
    if not thread.comments:
        print(f"No comments on {item_name(item)} yet.")
        return
    for comment in thread.comments:
        print(f"{comment.at:%Y-%m-%d %H:%M} UTC  {comment.author}")
        print("  " + comment.text.replace("\n", "\n  "))

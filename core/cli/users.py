"""`python -m core users ...`: add, list and deactivate users."""

from __future__ import annotations

import argparse
import getpass
import sys

from core.accounts import AuthError
from core.accounts import service as accounts
from core.cli.common import actor, add_command, add_group
from core.store.models import ROLES


def add_commands(commands: argparse._SubParsersAction) -> None:
    group = add_group(commands, "users", "manage users")
    add = add_command(
        group,
        "add",
        _add,
        "add a user; the password is read from a prompt or stdin (on a store without an admin: the first admin)",
    )
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--display-name", default="")
    add.add_argument("--email", default=None)
    add_command(group, "list", _list, "list users and their roles")
    deactivate = add_command(group, "deactivate", _deactivate, "deactivate a user and end their sign-in sessions")
    deactivate.add_argument("username")


def _password() -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    password = getpass.getpass("password: ")
    if getpass.getpass("again: ") != password:
        raise AuthError("the two passwords differ")
    return password


def _add(args: argparse.Namespace) -> None:
    details = {"username": args.username, "display_name": args.display_name, "email": args.email}
    if args.role == "admin" and not accounts.has_active_admin():
        user = accounts.create_first_admin(password=_password(), **details)
    else:
        user = accounts.add_user(actor=actor(args), role=args.role, password=_password(), **details)
    print(f"user {user.username} ({user.role}) is active")


def _list(args: argparse.Namespace) -> None:
    for user in accounts.list_users(actor=actor(args)):
        print(f"{user.username:<24} {user.role:<14} {'active' if user.active else 'inactive'}")


def _deactivate(args: argparse.Namespace) -> None:
    user = accounts.deactivate_user(actor=actor(args), username=args.username)
    print(f"user {user.username} is inactive; their sign-in sessions have ended")

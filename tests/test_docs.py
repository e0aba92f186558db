"""The README documents every command and every import kind (fails when one is added without docs)."""

from __future__ import annotations

import argparse
from pathlib import Path

from core.cli import _parser
from core.ingest import KINDS

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def commands(parser: argparse.ArgumentParser, prefix: str = "") -> list[str]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                nested = commands(sub, f"{prefix}{name} ")
                found.extend(nested or [f"{prefix}{name}"])
    return found


def test_every_command_is_in_the_readme():
    names = commands(_parser())
    assert "users add" in names and "import" in names
    missing = [name for name in names if f"python -m core {name}" not in README]
    assert missing == []


def test_every_import_kind_is_in_the_readme():
    assert [kind for kind in KINDS if f"| `{kind}` |" not in README] == []

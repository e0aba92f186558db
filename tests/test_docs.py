"""The README documents every command, every import kind and shows every page (fails when one is added without docs)."""

from __future__ import annotations

import argparse
from pathlib import Path

from app.navigation import PAGES
from core.cli import _parser
from core.ingest import KINDS

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


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


def test_every_page_has_its_screenshot_shown_in_the_readme():
    shots = [f"docs/screenshots/{name}.png" for name in ["login", *PAGES]]
    assert [shot for shot in shots if not (ROOT / shot).is_file()] == []  # make screenshots
    assert [shot for shot in shots if shot not in README] == []

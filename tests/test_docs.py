"""The docs keep up with the code: every command is in docs/reference/commands.md, every import kind in
docs/reference/formats.md, every page's screenshot is shown in the README, and no relative link points nowhere
(each fails when something is added, moved or removed without its docs)."""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

from app.navigation import PAGES
from core.cli.main import parser_of_commands
from core.ingest import KINDS

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
COMMANDS = ROOT / "docs" / "reference" / "commands.md"
FORMATS = ROOT / "docs" / "reference" / "formats.md"
MARKDOWN = [README, *sorted((ROOT / "docs").rglob("*.md"))]

# Markdown links and images `[text](target)`, and HTML `src=` / `href=` attributes.
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)|(?:src|href)=\"([^\"]+)\"")
FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"`[^`\n]*`")


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def commands(parser: argparse.ArgumentParser, prefix: str = "") -> list[str]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                nested = commands(sub, f"{prefix}{name} ")
                found.extend(nested or [f"{prefix}{name}"])
    return found


def relative_links(path: Path) -> list[str]:
    """The links of a Markdown file that point into the repository (not a web address, not only an anchor), outside
    code blocks and code spans."""
    text = CODE_SPAN.sub("", FENCE.sub("", read(path)))
    targets = [a or b for a, b in LINK.findall(text)]
    return [t for t in targets if not urlsplit(t).scheme and not t.startswith(("#", "//"))]


def test_every_command_is_in_the_command_reference():
    names = commands(parser_of_commands())
    assert "users add" in names and "import" in names
    text = read(COMMANDS)
    missing = [name for name in names if f"python -m core {name}" not in text]
    assert missing == []


def test_every_import_kind_is_in_the_formats_reference():
    text = read(FORMATS)
    assert [kind for kind in KINDS if f"| `{kind}` |" not in text] == []


def test_every_page_has_its_screenshot_shown_in_the_readme():
    shots = [f"docs/screenshots/{name}.png" for name in ["login", *PAGES]]
    assert [shot for shot in shots if not (ROOT / shot).is_file()] == []  # make screenshots
    text = read(README)
    assert [shot for shot in shots if shot not in text] == []


def test_the_link_check_reads_markdown_and_html_links_and_skips_code_and_web_addresses(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(
        '[a](guide.md#part) ![b](shot.png) <img src="pic.png" width="9"> [c](https://example.org/x.md)\n'
        "[d](#anchor) `[e](in-a-span.md)`\n```\n[f](in-a-block.md)\n```\n",
        encoding="utf-8",
    )
    assert relative_links(page) == ["guide.md#part", "shot.png", "pic.png"]


def test_every_relative_link_points_at_a_file_that_exists():
    broken = []
    for path in MARKDOWN:
        for link in relative_links(path):
            target = unquote(urlsplit(link).path)
            if not (path.parent / target).exists():
                broken.append(f"{path.relative_to(ROOT)}: {link}")
    assert broken == []

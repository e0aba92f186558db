"""The label config of moderation projects and the shape of its results: the one place that knows the names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.config import REPO_ROOT

CONFIG_DIR = REPO_ROOT / "data" / "labelstudio"
TEXT = "text"  # the <Text> tag: task data["text"]
LABEL = "label"  # single choice: toxic | not_toxic
CATEGORIES = "categories"  # multiple choice: core.store.models.CATEGORIES
NOTE = "note"  # text area


def config_path(queue: str = "moderation") -> Path:
    return CONFIG_DIR / f"{queue}.xml"


def label_config(queue: str = "moderation") -> str:
    path = config_path(queue)
    if not path.is_file():
        raise ValueError(f"no Label Studio label config for the {queue!r} queue: expected {path}")
    return path.read_text(encoding="utf-8")


def choices(from_name: str, values: list[str]) -> dict[str, Any]:
    return {"from_name": from_name, "to_name": TEXT, "type": "choices", "value": {"choices": values}}


def note(text: str) -> dict[str, Any]:
    return {"from_name": NOTE, "to_name": TEXT, "type": "textarea", "value": {"text": [text]}}


def result(label: str, categories: list[str], note_text: str = "") -> list[dict[str, Any]]:
    """A labelling result as Label Studio stores it (for predictions and tests)."""
    found = [choices(LABEL, [label])]
    if categories:
        found.append(choices(CATEGORIES, sorted(categories)))
    if note_text:
        found.append(note(note_text))
    return found

"""Reviewer guidelines and rubric anchors, kept as files in data/guidelines/ so leads can edit them."""

from __future__ import annotations

import json
from functools import cache

from core.config import REPO_ROOT

GUIDELINES_DIR = REPO_ROOT / "data" / "guidelines"


@cache
def guidelines(queue: str) -> str:
    """The markdown guidelines of a queue (rating, comparison, ...)."""
    return (GUIDELINES_DIR / f"{queue}.md").read_text(encoding="utf-8")


@cache
def rubric() -> dict:
    """Per rubric dimension its question and anchors "1".."5"; under "flags", each flag's description."""
    return json.loads((GUIDELINES_DIR / "rubric.json").read_text(encoding="utf-8"))

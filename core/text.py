"""Text from people and files, checked before it reaches the store."""

from __future__ import annotations

NUL = "\x00"
NUL_MESSAGE = "holds a NUL character (U+0000), which the store cannot keep (PostgreSQL refuses it); remove it"


def nul_problems(what: str, *texts: str | None) -> list[str]:
    """A problem if any text holds U+0000: refused on SQLite too, so that a store can move to PostgreSQL."""
    return [f"the {what} {NUL_MESSAGE}"] if any(text and NUL in text for text in texts) else []

"""Text from people and files, checked before it reaches the store."""

from __future__ import annotations

NUL = "\x00"
NUL_MESSAGE = "holds a NUL character (U+0000), which the store cannot keep (PostgreSQL refuses it); remove it"
TEXT_LIMIT = 5_000  # characters of a rationale, note, reason or comment, typed or imported


def text_problems(what: str, text: str | None) -> list[str]:
    """Problems of a free text a person wrote: longer than TEXT_LIMIT, or holding U+0000 (refused on SQLite too, so
    that a store can move to PostgreSQL)."""
    found = []
    if text and len(text) > TEXT_LIMIT:
        found.append(f"the {what} is {len(text):,} characters long; the limit is {TEXT_LIMIT:,}: shorten it")
    if text and NUL in text:
        found.append(f"the {what} {NUL_MESSAGE}")
    return found

"""Which model version is newer, by one rule that cannot flip: creation time, then the name in natural order (v2 after
v1, v10 after v9), then id. Versions imported together share a timestamp, and ids follow the order of the file, so
neither alone says which is newer. Versions are few (tens), so the order is applied in Python."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Protocol, TypeVar

_DIGITS = re.compile(r"(\d+)")


class Versioned(Protocol):
    created_at: datetime
    name: str
    id: int | None


V = TypeVar("V", bound=Versioned)


def natural_key(name: str) -> tuple:
    """'taxbot-v10' -> ('taxbot-v', 10, ''): text parts compared without case, number parts as numbers."""
    return tuple(int(part) if i % 2 else part.casefold() for i, part in enumerate(_DIGITS.split(name)))


def age_key(created_at: datetime, name: str, version_id: int | None = None) -> tuple:
    return created_at, natural_key(name), version_id or 0


def oldest_first(versions: Iterable[V]) -> list[V]:
    """Rows with `created_at`, `name` and `id` (model rows or result rows), oldest first."""
    return sorted(versions, key=lambda v: age_key(v.created_at, v.name, v.id))


def newest_first(versions: Iterable[V]) -> list[V]:
    return oldest_first(versions)[::-1]

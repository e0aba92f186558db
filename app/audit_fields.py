"""An audit event's before and after as a lead reads them: `field: value`, and for a change only what changed (the
raw JSON stays in the CSV export)."""

from __future__ import annotations

import json
from typing import Any


def readable_change(before: dict | None, after: dict | None) -> tuple[str, str]:
    if before and after:
        names = [name for name in sorted(before.keys() | after.keys()) if before.get(name) != after.get(name)]
    else:
        names = sorted(before or after or {})
    return _fields(before, names), _fields(after, names)


def _fields(values: dict | None, names: list[str]) -> str:
    if not values:
        return ""
    return " · ".join(f"{name.replace('_', ' ')}: {_value(values.get(name))}" for name in names if name in values)


def _value(value: Any) -> str:
    if value is None or value == "" or value == []:
        return "–"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)

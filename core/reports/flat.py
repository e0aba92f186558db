"""Reports made of dataclasses (KPIs, audits) as data for JSON, and as long CSV rows (section, item, metric, value)
that a spreadsheet pivots."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

from core.reports.filters import plain

CSV_HEADER = ("section", "item", "metric", "value")


def as_data(value: Any) -> Any:
    """Dataclasses (with their properties), lists and dicts as JSON-ready values (the leaves by filters.plain)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {f.name: as_data(getattr(value, f.name)) for f in dataclasses.fields(value)}
        for name, attribute in vars(type(value)).items():
            if isinstance(attribute, property):
                out[name] = as_data(getattr(value, name))
        return out
    if isinstance(value, dict):
        return {str(k): as_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [as_data(v) for v in value]
    return plain(value)


def _is_key(value: Any) -> bool:
    return isinstance(value, str | datetime | date)


def long_rows(section: str, records: Any) -> Iterator[tuple[Any, ...]]:
    """One row per number of each record: its text and time fields name the item, the numbers are the metrics."""
    for record in records if isinstance(records, list) else [records]:
        data = as_data(record)
        if not isinstance(data, dict):
            yield (section, "", "value", data)
            continue
        item = " / ".join(str(v) for v in data.values() if _is_key(v))
        for metric, value in data.items():
            if isinstance(value, bool | int | float) or value is None:
                yield (section, item, metric, value)
            elif isinstance(value, list) and all(isinstance(v, int | float) for v in value):
                yield (section, item, metric, " ".join(str(v) for v in value))
            elif isinstance(value, dict):  # a record within the record: its numbers, named after both
                yield from ((section, item, f"{metric}_{k}", v) for k, v in value.items() if isinstance(v, int | float))

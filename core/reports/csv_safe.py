"""CSV that a spreadsheet opens safely: a text cell starting with = + - @ (or a tab or carriage return) would be
read as a formula (CSV injection), so it is prefixed with a single quote, which spreadsheets show as text."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, TextIO

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # what a spreadsheet may run as a formula (OWASP: CSV injection)
# Rows end in CRLF (RFC 4180): Python's csv quotes a cell only if it holds a character of the line ending, so with a
# bare "\n" a cell holding a lone CR went out unquoted, and a spreadsheet started a new row there, whose first cell
# ("x\r=HYPERLINK(...)") escaped nothing.
LINE_END = "\r\n"


def escape_cell(value: object) -> object:
    """A text cell a spreadsheet would read as a formula gets a leading apostrophe; anything else stays as it is."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def safe_cell(value: Any) -> Any:
    """A value as a CSV cell: numbers as they are, times in ISO 8601, dicts and lists as JSON, text escaped."""
    if value is None:
        return ""
    if isinstance(value, bool | int | float):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict | list | tuple):
        value = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return escape_cell(str(value))


def write_csv(out: TextIO, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Write a header and rows, every cell made safe; returns the rows written."""
    writer = csv.writer(out, lineterminator=LINE_END)
    writer.writerow([safe_cell(h) for h in header])
    n = 0
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
        n += 1
    return n


def to_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    out = io.StringIO()
    write_csv(out, header, rows)
    return out.getvalue()

"""Reading JSONL and CSV files row by row, with the physical line number of each row and its problems."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from pydantic import BaseModel, ValidationError

from core.text import NUL_MESSAGE

Progress = Callable[[int, int], None]  # (bytes read, total bytes)


@dataclass(frozen=True)
class Problem:
    line: int
    field: str | None
    message: str

    def __str__(self) -> str:
        where = (f"line {self.line}" if self.line else "file") + (f", field {self.field}" if self.field else "")
        return f"{where}: {self.message}"


class _Lines:
    """Decoded lines of a binary file, numbered, reporting progress; invalid UTF-8 is a problem, not a crash."""

    def __init__(self, handle: BinaryIO, total: int, progress: Progress | None, problems: list[Problem]) -> None:
        self.handle, self.total, self.progress, self.problems = handle, total, progress, problems
        self.number = 0

    def __iter__(self) -> Iterator[str]:
        progress = self.progress  # a local: this loop runs once a line
        for number, raw in enumerate(self.handle, 1):
            self.number = number
            if progress and number % 5000 == 0:
                progress(self.handle.tell(), self.total)
            if b"\x00" in raw:
                self.problems.append(Problem(number, None, NUL_MESSAGE))
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError as error:
                bad = raw[error.start : error.start + 1].hex()
                self.problems.append(
                    Problem(
                        self.number,
                        None,
                        f"not valid UTF-8 (byte 0x{bad} at column {error.start + 1}); save the file as UTF-8",
                    )
                )
                yield raw.decode("utf-8", errors="replace")
        if self.progress:
            self.progress(self.total, self.total)


def _field(loc: tuple[Any, ...]) -> str | None:
    return ".".join(str(part) for part in loc) or None


def _problems_of(error: ValidationError, line: int) -> list[Problem]:
    found = []
    for item in error.errors(include_url=False):
        if item["type"] == "json_invalid":
            reason = re.sub(r" at line \d+ column \d+$", "", str(item["ctx"].get("error", item["msg"])))
            found.append(Problem(line, None, f"not valid JSON ({reason})"))
        else:
            found.append(Problem(line, _field(item["loc"]), item["msg"]))
    return found


def read_jsonl(
    path: Path, model: type[BaseModel], problems: list[Problem], progress: Progress | None = None
) -> Iterator[tuple[int, BaseModel]]:
    """Yield (line, row) for each valid line; append a Problem for each invalid one. Blank lines are skipped."""
    with open(path, "rb") as handle:
        lines = _Lines(handle, path.stat().st_size, progress, problems)
        validate = model.__pydantic_validator__.validate_json  # model_validate_json without its Python wrapper
        for text in lines:
            if text.isspace():
                continue
            try:
                row = validate(text, strict=True)
            except ValidationError as error:
                problems.extend(_problems_of(error, lines.number))
                continue
            if "\\u0000" in text and (where := nul_field(json.loads(text))) is not None:
                problems.append(Problem(lines.number, where or None, NUL_MESSAGE))
                continue
            yield lines.number, row


def read_csv(
    path: Path,
    model: type[BaseModel],
    problems: list[Problem],
    progress: Progress | None = None,
    shape: Callable[[dict[str, str]], dict[str, Any]] = dict,
) -> Iterator[tuple[int, BaseModel]]:
    """Yield (line, row) for each valid record; a quoted field may hold commas, quotes and newlines.

    `shape` turns the raw record (column -> text) into the model's input (e.g. folding `meta.*` columns)."""
    required = [name for name, field in model.model_fields.items() if field.is_required()]
    with open(path, "rb") as handle:
        lines = _Lines(handle, path.stat().st_size, progress, problems)
        reader = csv.DictReader(lines, strict=True)
        try:
            header = reader.fieldnames or []
        except csv.Error as error:
            problems.append(Problem(1, None, f"not valid CSV ({error})"))
            return
        missing = [name for name in required if name not in header]
        if missing:
            problems.append(Problem(1, None, f"the header lacks the column(s) {', '.join(missing)}"))
            return
        start = lines.number + 1
        while True:
            try:
                record = next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                problems.append(Problem(start, None, f"not valid CSV ({error})"))
                return
            line, start = start, lines.number + 1
            if None in record or any(value is None for value in record.values()):
                problems.append(Problem(line, None, f"expected {len(header)} columns, found another number"))
                continue
            try:
                yield line, model.model_validate(shape(record))
            except ValidationError as error:
                problems.extend(_problems_of(error, line))
            except ValueError as error:
                problems.append(Problem(line, None, str(error)))


def parse_json_cell(text: str, default: Any) -> Any:
    """A CSV cell that holds a JSON list or object (or is empty)."""
    return json.loads(text) if text.strip() else default


def nul_field(value: Any, prefix: str = "") -> str | None:
    """Where a JSON value holds a NUL character (a dotted path, "" for the value itself), or None.

    Only called on a line whose text holds an escaped NUL, so that clean lines cost one substring test."""
    if isinstance(value, str):
        return prefix if "\x00" in value else None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, inner in items:
        shown = str(key) if str(key).isprintable() else str(key).encode("unicode_escape").decode()  # a NUL, a CR
        here = f"{prefix}.{shown}" if prefix else shown
        if isinstance(key, str) and "\x00" in key:
            return here
        if (found := nul_field(inner, here)) is not None:
            return found
    return None

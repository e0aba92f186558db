"""`python -m core report ab` and the report files: JSON, CSV safe in a spreadsheet, self-contained HTML; and the
migration that puts the compared versions on existing comparisons."""

from __future__ import annotations

import csv
import io
import json

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import select, text

from core.cli.main import main
from core.reports.ab.export import csv_bytes, to_csv, to_html
from core.reports.ab.moderation import moderation_report
from core.reports.filters import Filters
from core.store.db import MIGRATIONS_DIR, dispose_engines, get_engine, session_scope
from core.store.models import Comparison, ModelVersion
from tests.ab_store import build_ab_store
from tests.app_helpers import add_admin


@pytest.fixture(autouse=True)
def admin(engine):
    """The store's one admin, whom the commands act as."""
    return add_admin(engine)


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_report_ab_json_has_the_headline_numbers_and_the_leaderboard(engine, capsys):
    build_ab_store(engine)
    code, out, _ = run(capsys, "report", "ab", "--a", "bot-a", "--b", "bot-b", "--since", "2026-06-01")
    assert code == 0
    report = json.loads(out)
    assert (report["wins_a"], report["wins_b"], report["ties"], report["both_bad"]) == (2, 8, 2, 1)
    assert report["win_rate_b"] == 0.8
    assert report["ci_low"] < 0.8 < report["ci_high"]
    assert report["p_value"] == pytest.approx(0.109375)
    assert {row["model"] for row in report["leaderboard"]} == {"bot-a", "bot-b", "bot-c"}
    assert set(report["leaderboard"][0]) >= {"model", "rating", "ci_low", "ci_high"}
    assert report["verdict"] and report["ratings"][0]["dimension"] == "helpfulness"


def test_report_ab_without_data_gives_nulls_not_nan(engine, capsys):
    build_ab_store(engine)
    code, out, _ = run(capsys, "report", "ab", "--a", "bot-a", "--b", "bot-b", "--since", "2031-01-01")
    report = json.loads(out)  # NaN would not parse as JSON in most tools
    assert code == 0 and report["win_rate_b"] is None and report["leaderboard"] == []


def test_report_ab_csv_and_html_to_files(engine, capsys, tmp_path):
    build_ab_store(engine)
    csv_path, html_path = tmp_path / "r.csv", tmp_path / "r.html"
    assert (
        run(capsys, "report", "ab", "--a", "mod-1", "--b", "mod-2", "--format", "csv", "--out", str(csv_path))[0] == 0
    )
    rows = list(csv.DictReader(io.StringIO(csv_path.read_text())))
    assert {r["table"] for r in rows} == {"classifiers", "differences", "mcnemar"}
    assert next(r for r in rows if r["version"] == "mod-2" and r["field"] == "all items")["tp"] == "3"
    code, _, err = run(
        capsys, "report", "ab", "--a", "bot-a", "--b", "bot-b", "--format", "html", "--out", str(html_path)
    )
    page = html_path.read_text()
    assert code == 0 and f"wrote {html_path} (html" in err
    assert "<h2>Verdict</h2>" in page and "Plotly.newPlot" in page and "<script src=" not in page


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--a", "bot-a", "--b", "nope"], "error: no model version named 'nope'; known versions: chatbot: bot-a"),
        (["--a", "bot-a", "--b", "mod-2"], "error: bot-a is a chatbot version and mod-2 a moderation one"),
        (["--a", "mod-1", "--b", "mod-1"], "error: A and B are both 'mod-1'"),
    ],
)
def test_report_ab_errors_are_one_line_and_exit_1(engine, capsys, args, message):
    build_ab_store(engine)
    code, out, err = run(capsys, "report", "ab", *args)
    assert (code, out) == (1, "") and err.startswith(message) and "Traceback" not in err


def test_csv_cells_that_a_spreadsheet_would_run_are_escaped():
    import pandas as pd

    table = pd.DataFrame({"model": ["=HYPERLINK(1)", "+1", "-x", "@SUM(A1)", "plain"], "rating": [1.0, -2.5, 3, 4, 5]})
    rows = list(csv.reader(io.StringIO(csv_bytes(table).decode())))
    assert [r[0] for r in rows[1:]] == ["'=HYPERLINK(1)", "'+1", "'-x", "'@SUM(A1)", "plain"]
    assert rows[2][1] == "-2.5"  # numbers stay numbers


def test_version_names_are_escaped_in_the_csv_and_the_html(engine):
    build_ab_store(engine)
    with session_scope(engine, write=True) as s:
        s.execute(ModelVersion.__table__.update().where(ModelVersion.name == "mod-2").values(name="=cmd|' /C calc'!A0"))
        s.execute(
            ModelVersion.__table__.update().where(ModelVersion.name == "mod-1").values(name="<script>x()</script>")
        )
    with session_scope(engine) as session:
        report = moderation_report(session, Filters("<script>x()</script>", "=cmd|' /C calc'!A0"))
    assert "'=cmd|" in to_csv(report).decode() and "\n=cmd" not in to_csv(report).decode()
    page = to_html(report)
    assert "<script>x()</script>" not in page and "&lt;script&gt;x()&lt;/script&gt;" in page


def test_the_migration_fills_the_versions_of_comparisons_already_stored(tmp_path, monkeypatch):
    """A store at revision 0002 with comparisons: after the upgrade each names the versions of its two answers."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    engine = get_engine(url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0002")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO model_version (id, name, kind, notes, meta, created_at) VALUES "
                "(1, 'v1', 'chatbot', '', '{}', '2026-01-01'), (2, 'v2', 'chatbot', '', '{}', '2026-01-01')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO prompt (id, external_id, source, text, meta, created_at) "
                "VALUES (1, 'p', 'import', 'q', '{}', '2026-01-01')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO response (id, external_id, prompt_id, model_version_id, text, meta, created_at) "
                "VALUES (1, 'r1', 1, 1, 'x', '{}', '2026-01-01'), (2, 'r2', 1, 2, 'y', '{}', '2026-01-01')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO comparison (id, key, source, prompt_id, response_a_id, response_b_id, choice, "
                "rationale, created_at) VALUES (1, 'k', 'app', 1, 2, 1, 'a', '', '2026-01-01')"
            )
        )
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    with session_scope(engine) as s:
        assert s.execute(select(Comparison.version_a_id, Comparison.version_b_id)).one() == (2, 1)
    dispose_engines()

"""`python -m core audit ...` and `python -m core report audit|kpi`: what a person typing them sees."""

from __future__ import annotations

import csv
import io
import json

from sqlalchemy import func, select

from core.cli.main import main
from core.store.db import session_scope
from core.store.models import AuditEvent, AuditSample, User
from tests import audit_store as store
from tests.app_helpers import add_admin


def _store(engine) -> None:
    """Two experts rating the same 12 answers in March 2026 (one with a name a spreadsheet would run)."""
    with session_scope(engine, write=True) as s:
        people = store.users(s, "ann", "=cmd|calc")
        v = store.version(s, "bot-v1")
        for i, answer in enumerate(store.answers(s, v, 12)):
            for n, user in enumerate(people.values()):
                seconds = 10 * (n + 1) + i  # ann 10..21 s, the other 20..31 s
                store.rate(s, user, answer, (3, 4, 1 + (i + n) % 5), when=store.at(days=i), seconds=seconds)


def test_audit_sample_draws_stores_and_prints_the_strata(engine, capsys):
    _store(engine)
    assert main(["audit", "sample", "--month", "2026-03", "--size", "6", "--as", "ann"]) == 0
    out = capsys.readouterr().out
    assert "audit sample 1 of 2026-03: 6 of 24 judgments (seed 202603)" in out
    assert "rating        ann" in out and "=cmd|calc" in out
    assert main(["audit", "sample", "--month", "2026-03", "--size", "6", "--seed", "202603", "--as", "ann"]) == 0
    with session_scope(engine) as s:  # the same one
        assert s.execute(select(func.count()).select_from(AuditSample)).scalar_one() == 1


def test_audit_sample_is_audited_as_the_expert_who_draws_it(engine, capsys):
    _store(engine)
    assert main(["audit", "sample", "--month", "2026-03", "--size", "6", "--as", "=cmd|calc"]) == 0
    with session_scope(engine) as s:
        expert = s.execute(select(User.id).where(User.username == "=cmd|calc")).scalar_one()
        actors = s.execute(select(AuditEvent.actor_id).where(AuditEvent.action == "audit_sample.draw")).scalars()
        assert list(actors) == [expert]
        assert s.execute(select(AuditSample.created_by)).scalar_one() == expert


def test_an_annotator_may_not_draw_an_audit_sample_nor_read_the_trail(engine, tmp_path, capsys):
    _store(engine)
    with session_scope(engine, write=True) as s:
        store.users(s, "lea", role="annotator")
    assert main(["audit", "sample", "--month", "2026-03", "--size", "6", "--as", "lea"]) == 1
    assert (
        "error: Only experts, expert leads and admins may draw an audit sample; 'lea' is signed in as annotator."
        in (capsys.readouterr().err)
    )
    kept = tmp_path / "kept.csv"
    kept.write_text("an earlier export\n", encoding="utf-8")
    assert main(["audit", "trail", "--as", "lea", "--output", str(kept)]) == 1
    assert "Only experts, expert leads and admins may read the audit trail" in capsys.readouterr().err
    assert kept.read_text(encoding="utf-8") == "an earlier export\n"  # a refusal leaves the file alone
    with session_scope(engine) as s:
        assert s.execute(select(func.count()).select_from(AuditSample)).scalar_one() == 0
        assert s.execute(select(func.count()).select_from(AuditEvent)).scalar_one() == 0


def test_audit_sample_refuses_a_bad_month_with_exit_1(engine, capsys):
    with session_scope(engine, write=True) as s:
        store.users(s, "ann")
    assert main(["audit", "sample", "--month", "03/2026", "--size", "6", "--as", "ann"]) == 1
    assert "error: month '03/2026': write it as YYYY-MM" in capsys.readouterr().err
    assert main(["audit", "sample", "--month", "2026-03", "--size", "6", "--as", "ann"]) == 1
    assert "error: no judgments were made in 2026-03" in capsys.readouterr().err


def test_report_audit_json_has_agreement_per_queue_and_dimension(engine, capsys):
    _store(engine)
    assert main(["report", "audit", "--format", "json", "--as", "ann"]) == 0
    report = json.loads(capsys.readouterr().out)
    accuracy = report["agreement"]["rating"]["accuracy"]
    assert set(accuracy) >= {"krippendorff_alpha", "fleiss_kappa", "n_items"}
    assert (accuracy["n_items"], accuracy["n_judgments"]) == (12, 24)
    assert report["agreement"]["rating"]["helpfulness"]["krippendorff_alpha"] is None  # all 3: undefined
    assert [r["reviewer"] for r in report["reviewers"]] == ["=cmd|calc", "ann"]
    ann = report["reviewers"][1]["seconds"]  # nearest rank among 12: the 2nd, 3rd, 6th, 9th and 11th values
    assert ann == {"timed": 12, "p10": 11.0, "p25": 12.0, "median": 15.0, "p75": 18.0, "p90": 20.0}
    assert report["queue_seconds_per_item"]["rating"]["median"] == 20.0  # the 12th of 24: 10..21 and 20..31
    assert "tab was hidden" in report["rules"]["seconds"]
    assert report["flags"]["unsafe"] == {"open": 0, "confirmed": 0, "dismissed": 0}


def test_report_audit_csv_is_long_and_formula_safe(engine, capsys):
    _store(engine)
    assert (
        main(["report", "audit", "--format", "csv", "--from", "2026-03-01", "--to", "2026-03-31", "--as", "ann"]) == 0
    )
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[0] == ["section", "item", "metric", "value"]
    assert ["agreement", "rating / accuracy / ordinal", "n_items", "12"] in rows
    assert ["reviewers", "rating / =cmd|calc", "judgments", "12"] in rows
    assert ["reviewers", "rating / ann", "seconds_median", "15.0"] in rows
    assert ["queue_seconds_per_item", "rating", "p90", "29.0"] in rows
    risky = [cell for row in rows for cell in row if cell.startswith(("=", "+", "-", "@"))]
    assert all(float(cell) < 0 for cell in risky)  # only negative numbers (kappas), which are not formulas


def test_report_kpi_json_and_csv(engine, capsys):
    _store(engine)
    add_admin(engine)
    assert (
        main(["report", "kpi", "--from", "2026-03-01", "--to", "2026-03-31", "--sla-hours", "24", "--as", "ops"]) == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert (report["start"], report["end"], report["sla_hours"]) == (
        "2026-03-01T00:00:00+00:00",
        "2026-04-01T00:00:00+00:00",
        24.0,
    )
    assert report["active_reviewers"] == 2 and sum(d["judgments"] for d in report["throughput"]) == 24
    assert "turnaround" in report["definitions"]
    assert main(["report", "kpi", "--format", "csv", "--from", "2026-03-01", "--to", "2026-03-31", "--as", "ops"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert ["active_reviewers", "", "reviewers", "2"] in rows
    assert ["throughput", "2026-03-02 / rating", "judgments", "2"] in rows


def test_report_kpi_refuses_a_bad_day(engine, capsys):
    add_admin(engine)
    assert main(["report", "kpi", "--from", "2026-02-30", "--as", "ops"]) == 1
    assert "error: --from '2026-02-30': write the day as YYYY-MM-DD" in capsys.readouterr().err
    assert main(["report", "kpi", "--from", "2026-03-10", "--to", "2026-03-01", "--as", "ops"]) == 1
    assert "ends before it starts" in capsys.readouterr().err


def test_audit_trail_writes_the_matching_events_as_csv(engine, tmp_path, capsys):
    _store(engine)
    assert main(["audit", "sample", "--month", "2026-03", "--size", "3", "--as", "ann"]) == 0
    out = tmp_path / "trail.csv"
    assert main(["audit", "trail", "--action", "audit_sample.draw", "--output", str(out), "--as", "ann"]) == 0
    assert "1 events" in capsys.readouterr().err
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [(r["actor"], r["action"], r["entity"]) for r in rows] == [("ann", "audit_sample.draw", "audit_sample")]
    with session_scope(engine) as s:
        assert s.execute(select(func.count()).select_from(User)).scalar_one() == 2

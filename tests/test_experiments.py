"""Online experiments: importing their events (validated, all or nothing, idempotent), the report (rates,
difference, z-test, sample ratio), and the planned split."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from scipy.stats import norm
from sqlalchemy import func, select

from core.cli.main import main
from core.ingest import ImportRefused, import_file
from core.reports.ab.experiments import experiment_report, plan_split
from core.reports.filters import ReportError
from core.store.db import session_scope
from core.store.models import AuditEvent, Experiment, ExperimentEvent
from tests.app_helpers import add_admin, add_users


def jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def events(control: tuple[int, int], treatment: tuple[int, int], name: str = "greeting") -> list[dict]:
    """Units with thumbs_up: (units, of them thumbs up) per variant."""
    rows = []
    for variant, (units, ups) in (("control", control), ("treatment", treatment)):
        for n in range(units):
            at = f"2026-11-{1 + n % 20:02d}T10:00:00Z"
            rows.append({"experiment": name, "unit_id": f"{variant}-{n}", "variant": variant, "at": at,
                         "thumbs_up": int(n < ups)})  # fmt: skip
    return rows


def stored(engine) -> tuple[int, int]:
    with session_scope(engine) as s:
        return (
            s.execute(select(func.count()).select_from(Experiment)).scalar_one(),
            s.execute(select(func.count()).select_from(ExperimentEvent)).scalar_one(),
        )


def test_jsonl_events_land_long_one_outcome_per_metric_and_twice_adds_nothing(any_engine, tmp_path):
    rows = [
        {"experiment": "e1", "unit_id": "u1", "variant": "b", "at": "2026-11-02T09:00:00+01:00", "thumbs_up": 1,
         "escalated": 0},
        {"experiment": "e1", "unit_id": "u2", "variant": "a", "at": "2026-11-01T10:00:00Z", "thumbs_up": 0},
    ]  # fmt: skip
    path = jsonl(tmp_path / "events.jsonl", rows)
    first = import_file(path, "experiment-events", engine=any_engine)
    second = import_file(path, "experiment-events", engine=any_engine)
    assert (first.rows_read, first.added, second.added, second.present) == (2, 3, 0, 3)
    with session_scope(any_engine) as s:
        experiment = s.execute(select(Experiment)).scalar_one()
        outcomes = s.execute(
            select(
                ExperimentEvent.unit_id, ExperimentEvent.variant, ExperimentEvent.metric, ExperimentEvent.value
            ).order_by(ExperimentEvent.unit_id, ExperimentEvent.metric)
        ).all()
    assert (experiment.name, experiment.variant_a, experiment.variant_b) == ("e1", "a", "b")
    assert (experiment.started_at.isoformat(), experiment.ended_at.isoformat()) == (
        "2026-11-01T10:00:00+00:00",
        "2026-11-02T08:00:00+00:00",
    )
    assert outcomes == [("u1", "b", "escalated", 0.0), ("u1", "b", "thumbs_up", 1.0), ("u2", "a", "thumbs_up", 0.0)]


def test_csv_events_with_a_column_per_metric_and_blank_cells(engine, tmp_path):
    path = tmp_path / "events.csv"
    path.write_text(
        "experiment,unit_id,variant,at,thumbs_up,escalated\n"
        "e1,u1,control,2026-11-01T10:00:00Z,1,\n"
        "e1,u2,treatment,2026-11-01,0,1\n",
        encoding="utf-8",
    )
    summary = import_file(path, "experiment-events", engine=engine)
    assert (summary.rows_read, summary.added) == (2, 3)  # u1's escalated was not measured


@pytest.mark.parametrize(
    ("rows", "problem"),
    [
        ([{"experiment": "e", "unit_id": "u", "variant": "a", "at": "2026-11-01T08:00:00Z", "thumbs_up": 2}],
         "line 1, field thumbs_up: Input should be less than or equal to 1"),
        ([{"experiment": "e", "unit_id": "u", "variant": "a", "at": "2026-11-01T08:00:00Z"}],
         "line 1: Value error, no outcome: add at least one metric field"),
        ([{"experiment": "e", "unit_id": "u", "variant": "a", "thumbs_up": 1}], "line 1, field at: Field required"),
        ([{"experiment": "e", "unit_id": "u", "variant": "a", "at": "2026-11-01T08:00:00Z", "thumbs up": 1}],
         "metric name(s) 'thumbs up'"),
        ([{"experiment": "e", "unit_id": f"u{v}", "variant": v, "at": "2026-11-01T08:00:00Z", "x": 1} for v in "abc"],
         "line 3, field variant: experiment 'e' has the variants a, b already: 'c' would be a third"),
        ([{"experiment": "e", "unit_id": "u", "variant": v, "at": "2026-11-01T08:00:00Z", "x": 1} for v in "ab"],
         "line 2, field variant: unit 'u' of experiment 'e' is in variant 'a' on line 1"),
    ],
)  # fmt: skip
def test_a_bad_file_is_refused_whole_and_writes_nothing(engine, tmp_path, rows, problem):
    good = {"experiment": "other", "unit_id": "g", "variant": "a", "at": "2026-11-01T08:00:00Z", "x": 1}
    with pytest.raises(ImportRefused) as refused:
        import_file(jsonl(tmp_path / "bad.jsonl", [*rows, good]), "experiment-events", engine=engine)
    assert any(problem in line for line in refused.value.lines()), refused.value.lines()
    assert stored(engine) == (0, 0)


def test_a_unit_cannot_change_variant_in_a_later_file(engine, tmp_path):
    base = {"experiment": "e", "unit_id": "u1", "at": "2026-11-01T08:00:00Z", "x": 1}
    import_file(jsonl(tmp_path / "one.jsonl", [base | {"variant": "a"}]), "experiment-events", engine=engine)
    with pytest.raises(ImportRefused, match="unit 'u1' of experiment 'e' is in variant 'a' in the store"):
        import_file(
            jsonl(tmp_path / "two.jsonl", [base | {"variant": "b", "y": 1}]), "experiment-events", engine=engine
        )
    assert stored(engine) == (1, 1)


def test_report_rates_difference_and_z_test_per_metric(any_engine, tmp_path):
    import_file(jsonl(tmp_path / "e.jsonl", events((400, 240), (400, 272))), "experiment-events", engine=any_engine)
    with session_scope(any_engine) as session:
        report = experiment_report(session, "greeting")
    (metric,) = report.metrics
    r = metric.rates
    assert (metric.metric, r.count_a, r.n_a, r.count_b, r.n_b) == ("thumbs_up", 240, 400, 272, 400)
    assert r.difference == pytest.approx(0.08)
    pooled = 512 / 800
    z = 0.08 / math.sqrt(pooled * (1 - pooled) * 2 / 400)
    assert r.p_value == pytest.approx(2 * norm.sf(z))
    assert r.ci_low < 0.08 < r.ci_high
    assert metric.adjusted.shown and metric.adjusted.tests == 1 and metric.adjusted.p_adjusted == r.p_value
    assert not report.srm.alarm
    assert report.verdict[0] == "Units per variant (control: 400, treatment: 400) fit the planned split (p = 1.00)."
    assert report.verdict[1].startswith("thumbs_up: higher in treatment: 68.0% in treatment against 60.0% in control")


def test_sample_ratio_mismatch_alarm_on_a_skewed_split_and_with_a_plan(engine, tmp_path):
    import_file(jsonl(tmp_path / "e.jsonl", events((560, 300), (440, 250))), "experiment-events", engine=engine)
    with session_scope(engine) as session:
        skewed = experiment_report(session, "greeting")
    assert skewed.srm.alarm and skewed.verdict[0].startswith("Sample ratio mismatch: the units per variant")
    with session_scope(engine, write=True) as session:
        assert plan_split(session, name="greeting", split={"control": 56, "treatment": 44}, actor_id=None) == {
            "control": 0.56,
            "treatment": 0.44,
        }
    with session_scope(engine) as session:
        planned = experiment_report(session, "greeting")
        event = session.execute(select(AuditEvent).where(AuditEvent.action == "experiment.plan")).scalar_one()
    assert not planned.srm.alarm
    assert event.after == {"planned_split": {"control": 0.56, "treatment": 0.44}}


def test_plan_refuses_an_unknown_variant_or_experiment(engine, tmp_path):
    import_file(jsonl(tmp_path / "e.jsonl", events((5, 1), (5, 2))), "experiment-events", engine=engine)
    with session_scope(engine, write=True) as session:
        with pytest.raises(ReportError, match="has no variant ctrl; its variants: control, treatment"):
            plan_split(session, name="greeting", split={"ctrl": 1}, actor_id=None)
        with pytest.raises(ReportError, match="no experiment named 'nope'; known: greeting"):
            plan_split(session, name="nope", split={"a": 1}, actor_id=None)


def test_experiment_commands(engine, tmp_path, capsys):
    admin = add_admin(engine)
    path = jsonl(tmp_path / "e.jsonl", events((90, 30), (10, 5)))
    assert main(["import", "experiment-events", str(path)]) == 0
    assert "100 rows read, 100 outcomes: 100 added" in capsys.readouterr().out
    assert main(["report", "experiment", "greeting"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["variant_a"], out["variant_b"], out["srm_alarm"]) == ("control", "treatment", True)
    assert out["metrics"][0]["rate_a"] == pytest.approx(1 / 3)
    assert main(["experiment", "plan", "greeting", "control=0.9", "treatment=0.1"]) == 0
    assert "greeting: planned split control 90%, treatment 10%" in capsys.readouterr().out
    assert main(["report", "experiment", "greeting"]) == 0
    assert json.loads(capsys.readouterr().out)["srm_alarm"] is False
    assert main(["experiment", "plan", "greeting", "control:0.9"]) == 1
    assert "error: 'control:0.9': write VARIANT=SHARE" in capsys.readouterr().err
    with session_scope(engine) as session:
        planned = session.execute(select(AuditEvent.actor_id).where(AuditEvent.action == "experiment.plan")).scalars()
        assert list(planned) == [admin.id]  # audited as the user the command acted as


def test_a_product_owner_plans_and_reads_experiments_an_annotator_may_not(engine, tmp_path, capsys):
    users = add_users(engine)
    assert main(["import", "experiment-events", str(jsonl(tmp_path / "e.jsonl", events((5, 1), (5, 2))))]) == 0
    assert main(["experiment", "plan", "greeting", "control=0.5", "treatment=0.5", "--as", "pat"]) == 0
    assert main(["report", "kpi", "--as", "pat"]) == 0
    capsys.readouterr()
    for command in (
        ["report", "experiment", "greeting"],
        ["report", "kpi"],
        ["experiment", "plan", "greeting", "control=1"],
    ):
        assert main([*command, "--as", "ann"]) == 1
        assert capsys.readouterr().err.startswith("error: Only product owners and admins may ")
    with session_scope(engine) as session:
        planned = session.execute(select(AuditEvent.actor_id).where(AuditEvent.action == "experiment.plan")).scalars()
        assert list(planned) == [users["product_owner"].id]

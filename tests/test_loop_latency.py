"""Loop latency per version on a hand-built store whose times are set by hand: each figure below is worked out in the
comments (nearest-rank percentiles: of two values, p50 is the smaller and p95 the larger)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from core.cli.main import main
from core.reports.kpi.latency import DEFAULT_LOOP_SLA_HOURS, loop_latency
from core.store.db import session_scope
from core.store.models import DatasetSnapshot, ModelVersion, Response, RewardModelRun, utcnow
from tests import audit_store as store
from tests.app_helpers import REPO_ROOT, TIMEOUT, add_admin, add_users, fresh_streamlit_cache  # noqa: F401

T0 = store.T0  # 2026-03-02 09:00 UTC
FIGURES = (
    "arrival_to_judgment_p50_hours",
    "arrival_to_judgment_p95_hours",
    "judgment_to_version_p50_hours",
    "judgment_to_version_p95_hours",
    "arrival_to_version_p50_hours",
    "arrival_to_version_p95_hours",
)


def _retrained(s, name: str, newest_label: datetime, ready: datetime) -> None:
    """A moderation version as core.moderation.retrain registers it: its newest final label and when it was ready."""
    retrain = {"newest_label_at": newest_label.isoformat(), "ready_at": ready.isoformat()}
    s.add(ModelVersion(name=name, kind="moderation", meta={"retrain": retrain}, created_at=ready))


def _pair(s, a_version: int, b_version: int, arrived: tuple[datetime, datetime]) -> tuple[int, int]:
    """Two versions' answers to one prompt, arrived at the given times."""
    (a,) = store.answers(s, a_version, 1, created=arrived[0])
    b = store.second_answer(s, a, b_version)
    s.get(Response, b).created_at = arrived[1]
    return a, b


def _run(s, snapshot: int, finished: datetime, status: str = "done") -> int:
    run = RewardModelRun(
        snapshot_id=snapshot, base_model="tiny", status=status, started_at=finished, finished_at=finished
    )
    s.add(run)
    s.flush()
    return run.id


def _snapshot(s, taken: datetime, *, with_ratings: bool = False) -> int:
    snapshot = DatasetSnapshot(
        kind="reward-pairs", content_hash=f"h{taken:%H}", row_count=2, filters={"with_ratings": with_ratings}, path="-"
    )
    snapshot.created_at = taken
    s.add(snapshot)
    s.flush()
    return snapshot.id


def build(engine, t0: datetime = T0) -> dict[str, int]:
    """Moderation (items arrive at t0 unless said):
    - mod-r1 (newest label +10 h, ready +12 h): m1 labelled +2 h, m2 +10 h; m3 (gold) +5 h does not count.
      arrival->judgment 2, 10; judgment->version 10, 2; arrival->version 12, 12.
    - mod-r2 (newest +30 h, ready +40 h): m4 (arrived +20 h) labelled +30 h; m5's labels disagree (+1 h, +2 h) and an
      adjudication decides at +25 h. arrival->judgment 10, 25; judgment->version 10, 15; arrival->version 20, 40.
      m6, labelled at +35 h, is newer than every version: it counts for none.
    - mod-r3 (retrained again with nothing new, ready +50 h): no judgment.
    - mod-import (imported, never retrained here): not listed.
    Reward (a pair arrives when its later answer does):
    - snapshot S1 at +10 h: pair P1 (arrived +4 h) compared +6 h, P2 (+1 h) compared +9 h; P3 is gold (+7 h).
      run 1 finished +20 h: arrival->judgment 2, 8; judgment->version 11, 14; arrival->version 16, 19.
      run 2 on S1 finished +30 h: judgment->version 21, 24; arrival->version 26, 29. A failed run is not listed.
    - snapshot S2 at +50 h, with ratings: P4 (+44 h) compared +48 h, an answer (+40 h) rated +45 h.
      run 4 finished +60 h: arrival->judgment 4, 5; judgment->version 12, 15; arrival->version 16, 20."""

    def h(hours: float) -> datetime:
        return t0 + timedelta(hours=hours)

    with session_scope(engine, write=True) as s:
        people = store.users(s, "lat-ann", "lat-ben", "lat-lead")
        ann, ben, lead = people["lat-ann"], people["lat-ben"], people["lat-lead"]
        m1, m2, m3, m5, m6 = (store.moderation_item(s, created=t0) for _ in range(5))
        m4 = store.moderation_item(s, created=h(20))
        store.label(s, ann, m1, "toxic", when=h(2))
        store.label(s, ann, m2, "not_toxic", when=h(10))
        store.label(s, ann, m3, "toxic", when=h(5))
        store.work_item(s, "moderation", m3, arrived=t0, gold_answer={"label": "toxic"})
        store.label(s, ann, m4, "toxic", when=h(30))
        store.label(s, ann, m5, "toxic", when=h(1))
        store.label(s, ben, m5, "not_toxic", when=h(2))
        store.adjudicate(s, lead, m5, "toxic", when=h(25))
        store.label(s, ann, m6, "toxic", when=h(35))
        _retrained(s, "mod-r1", h(10), h(12))
        _retrained(s, "mod-r2", h(30), h(40))
        _retrained(s, "mod-r3", h(30), h(50))
        store.version(s, "mod-import", kind="moderation", created=h(1))

        bot_a, bot_b = store.version(s, "bot-a"), store.version(s, "bot-b")
        p1, p2, p3, p4 = (_pair(s, bot_a, bot_b, (t0, h(at))) for at in (4, 1, 2, 44))
        store.compare(s, ann, *p1, "a", when=h(6))
        store.compare(s, ann, *p2, "b", when=h(9))
        store.compare(s, ann, *p3, "a", when=h(7))
        store.work_item(s, "comparison", min(p3), subject_b_id=max(p3), arrived=h(2), gold_answer={"choice": "a"})
        first = _snapshot(s, h(10))
        runs = [_run(s, first, h(20)), _run(s, first, h(30)), _run(s, first, h(35), status="failed")]
        store.compare(s, ben, *p4, "b", when=h(48))
        (rated,) = store.answers(s, bot_a, 1, created=h(40))
        store.rate(s, ben, rated, (4, 4, 4), when=h(45))
        runs.append(_run(s, _snapshot(s, h(50), with_ratings=True), h(60)))
    return {"run1": runs[0], "run2": runs[1], "run4": runs[3]}


def _latency(engine, start=datetime(2026, 3, 1, tzinfo=UTC), end=datetime(2026, 4, 1, tzinfo=UTC)):
    with session_scope(engine) as s:
        return {
            r.version: (r.kind, r.judgments, *(getattr(r, f) for f in FIGURES)) for r in loop_latency(s, start, end)
        }


def test_loop_latency_per_version_from_the_judgments_it_learnt_first(any_engine):
    runs = build(any_engine)
    found = _latency(any_engine)
    assert list(found) == [
        "mod-r1",
        f"run {runs['run1']}",
        f"run {runs['run2']}",
        "mod-r2",
        "mod-r3",
        f"run {runs['run4']}",
    ]
    expected = {
        "mod-r1": ("moderation", 2, 2, 10, 2, 10, 12, 12),
        f"run {runs['run1']}": ("reward", 2, 2, 8, 11, 14, 16, 19),
        f"run {runs['run2']}": ("reward", 2, 2, 8, 21, 24, 26, 29),
        "mod-r2": ("moderation", 2, 10, 25, 10, 15, 20, 40),
        "mod-r3": ("moderation", 0, None, None, None, None, None, None),
        f"run {runs['run4']}": ("reward", 2, 4, 5, 12, 15, 16, 20),
    }
    assert found == {
        name: tuple(pytest.approx(v) if isinstance(v, int) else v for v in row) for name, row in expected.items()
    }


def test_only_versions_ready_in_the_range_are_listed_and_keep_their_judgments(any_engine):
    """From +21 h: mod-r1 (+12 h) and run 1 (+20 h) are out; mod-r2 still counts from mod-r1's cut-off."""
    runs = build(any_engine)
    found = _latency(any_engine, start=T0 + timedelta(hours=21))
    assert list(found) == [f"run {runs['run2']}", "mod-r2", "mod-r3", f"run {runs['run4']}"]
    assert found["mod-r2"][1:4] == (2, pytest.approx(10), pytest.approx(25))
    assert _latency(any_engine, start=T0 + timedelta(hours=61)) == {}


def test_an_empty_store_has_no_loop_latency(engine):
    assert _latency(engine) == {}


def test_report_kpi_json_carries_loop_latency_and_its_sla(engine, capsys):
    runs = build(engine)
    add_admin(engine)
    args = ["report", "kpi", "--from", "2026-03-01", "--to", "2026-03-31", "--as", "ops"]
    assert main([*args, "--loop-sla-hours", "24"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["loop_sla_hours"] == 24.0 and "loop_latency" in report["definitions"]
    first = report["loop_latency"][0]
    assert first == {
        "version": "mod-r1",
        "kind": "moderation",
        "judgments": 2,
        "arrival_to_judgment_p50_hours": pytest.approx(2),
        "arrival_to_judgment_p95_hours": pytest.approx(10),
        "judgment_to_version_p50_hours": pytest.approx(2),
        "judgment_to_version_p95_hours": pytest.approx(10),
        "arrival_to_version_p50_hours": pytest.approx(12),
        "arrival_to_version_p95_hours": pytest.approx(12),
    }
    assert [r["version"] for r in report["loop_latency"]][-1] == f"run {runs['run4']}"
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["loop_sla_hours"] == DEFAULT_LOOP_SLA_HOURS
    assert main([*args, "--format", "csv"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert ["loop_latency", "mod-r2 / moderation", "arrival_to_version_p95_hours", "40.0"] in rows


def test_the_kpi_page_shows_loop_latency_against_the_sla_line(engine):
    st.cache_data.clear()
    users = add_users(engine)
    build(engine, t0=utcnow() - timedelta(days=5))
    at = AppTest.from_file(str(REPO_ROOT / "pages" / "kpi.py"), default_timeout=TIMEOUT)
    at.session_state["user"] = users["product_owner"]
    at.run()
    assert not at.exception
    table = next(df.value for df in at.dataframe if "Arrival → version" in df.value.columns)
    mod_r2 = table[table["Version"] == "mod-r2"].iloc[0]
    assert (mod_r2["Kind"], mod_r2["Judgments"], mod_r2["Arrival → judgment"]) == ("moderation", 2, "10.0 / 25.0 h")
    assert (mod_r2["Judgment → version"], mod_r2["Arrival → version"]) == ("10.0 / 15.0 h", "20.0 / 40.0 h")
    assert mod_r2["p95 within SLA"] == "yes"  # 40 h <= 72 h
    assert table[table["Version"] == "mod-r3"].iloc[0]["Arrival → version"] == "–"

    def sla_lines() -> list[float]:
        for chart in at.get("plotly_chart"):
            spec = json.loads(chart.proto.spec)
            if spec["layout"].get("yaxis", {}).get("title", {}).get("text") == "hours from arrival to version ready":
                return [shape["y0"] for shape in spec["layout"]["shapes"]]
        return []

    assert sla_lines() == [DEFAULT_LOOP_SLA_HOURS]
    loop_sla = next(n for n in at.number_input if n.label == "Loop latency SLA (hours)")
    loop_sla.set_value(24.0).run()
    assert sla_lines() == [24.0]
    table = next(df.value for df in at.dataframe if "Arrival → version" in df.value.columns)
    assert table[table["Version"] == "mod-r2"].iloc[0]["p95 within SLA"] == "no"  # 40 h > 24 h

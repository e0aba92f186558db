"""Per-dimension preferences: a comparison's left/right/tie on helpfulness, harmlessness and accuracy, asked when the
comparison queue's setting is on; stored in the pair's a/b order, imported, reported as win rates per dimension, and
the pairs of a reward snapshot chosen by one dimension."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import streamlit as st
from sqlalchemy import select

from core.cli.main import main
from core.ingest import ImportRefused, import_file
from core.oversight.history import find_item, item_history
from core.reports.ab.chatbot import chatbot_report
from core.reports.ab.export import to_csv, to_json
from core.reports.filters import Filters
from core.review import service as review
from core.review import settings
from core.review.judgments import ComparisonIn, FeedbackError
from core.reward import RewardError
from core.reward.snapshot import export_snapshot
from core.stats.ab import wilson, win_rate
from core.stats.multiple import ALPHA
from core.store.db import session_scope
from core.store.models import AuditEvent, Comparison, DatasetSnapshot, QueueConfig, Response
from tests.ab_store import build_ab_store
from tests.app_helpers import add_users, app, fresh_streamlit_cache, page  # noqa: F401
from tests.review_store import actor, build, table_counts
from tests.reward_store import add_answers, reviewer

ALL_LEFT = {"helpfulness": "left", "harmlessness": "left", "accuracy": "left"}


@pytest.fixture
def asked(engine, tmp_path):
    """A review store whose comparison queue asks per dimension; the users by name."""
    users = build(engine, tmp_path, prompts=2, comparison_k=1)
    with session_scope(engine, write=True) as s:
        settings.configure(s, queue="comparison", actor_id=users["admin"], per_dimension=True)
    return users


def lease(engine, users, name: str = "expert0"):
    return review.next_item(actor=actor(engine, users[name]), queue="comparison", engine=engine)


def stored(engine) -> list[Comparison]:
    with session_scope(engine) as s:
        return list(s.execute(select(Comparison).order_by(Comparison.id)).scalars())


# --- write path ---------------------------------------------------------------------------------------------------


def test_the_choices_per_dimension_are_stored_in_the_pairs_a_b_order_and_audited(engine, asked):
    view = lease(engine, asked)
    assert view.per_dimension
    sides = {"helpfulness": "left", "harmlessness": "right", "accuracy": "tie"}
    comparison_id = review.compare(
        actor=actor(engine, asked["expert0"]),
        assignment_id=view.assignment_id,
        comparison=ComparisonIn("left", "clear", "", sides),
        engine=engine,
    )
    (row,) = stored(engine)
    left_is_a = row.left_response_id == row.response_a_id
    left, right = ("a", "b") if left_is_a else ("b", "a")
    assert row.choice == left
    assert row.dimensions == {"helpfulness": left, "harmlessness": right, "accuracy": "tie"}
    with session_scope(engine) as s:
        event = s.execute(select(AuditEvent).where(AuditEvent.action == "comparison.create")).scalar_one()
    assert event.entity_id == comparison_id
    assert event.after["dimensions"] == row.dimensions
    assert event.after["preferred_dimensions"] == sides  # as the reviewer saw them


@pytest.mark.parametrize(
    ("dimensions", "reason"),
    [
        ({"helpfulness": "left", "harmlessness": "right"}, "choose left, right or tie for accuracy"),
        (
            {},
            "choose left, right or tie for helpfulness; choose left, right or tie for harmlessness; choose left, "
            "right or tie for accuracy",
        ),
        (ALL_LEFT | {"accuracy": "both_bad"}, "choose left, right or tie for accuracy"),
        (ALL_LEFT | {"tone": "left"}, "unknown dimension 'tone'"),
    ],
)
def test_a_missing_or_bad_dimension_is_refused_with_the_reason_and_nothing_stored(engine, asked, dimensions, reason):
    view = lease(engine, asked)
    before = table_counts(engine)
    with pytest.raises(FeedbackError) as refused:
        review.compare(
            actor=actor(engine, asked["expert0"]),
            assignment_id=view.assignment_id,
            comparison=ComparisonIn("tie", None, "", dimensions),
            engine=engine,
        )
    assert str(refused.value) == reason
    assert table_counts(engine) == before


def test_with_the_setting_off_no_dimension_is_needed_and_none_is_stored(engine, tmp_path):
    users = build(engine, tmp_path, prompts=2, comparison_k=1)
    view = lease(engine, users)
    assert not view.per_dimension
    review.compare(
        actor=actor(engine, users["expert0"]),
        assignment_id=view.assignment_id,
        comparison=ComparisonIn("tie"),
        engine=engine,
    )
    assert stored(engine)[0].dimensions == {}


def test_changing_a_comparison_changes_its_dimensions_and_keeps_the_old_ones_in_the_audit(engine, asked):
    expert = actor(engine, asked["expert0"])
    view = lease(engine, asked)
    comparison_id = review.compare(
        actor=expert, assignment_id=view.assignment_id, comparison=ComparisonIn("tie", None, "", ALL_LEFT)
    )
    last = review.last_judgment(actor=expert, queue="comparison", engine=engine)
    assert last.per_dimension and last.values.dimensions == ALL_LEFT  # reopened as the reviewer saw it
    review.change_comparison(
        actor=expert,
        comparison_id=comparison_id,
        comparison=ComparisonIn("tie", None, "", ALL_LEFT | {"accuracy": "right"}),
        engine=engine,
    )
    (row,) = stored(engine)
    right = "b" if row.left_response_id == row.response_a_id else "a"
    assert row.dimensions["accuracy"] == right
    with session_scope(engine) as s:
        event = s.execute(select(AuditEvent).where(AuditEvent.action == "comparison.update")).scalar_one()
    assert event.before["preferred_dimensions"] == ALL_LEFT
    assert event.after["preferred_dimensions"] == ALL_LEFT | {"accuracy": "right"}


def test_the_pairs_history_shows_each_dimensions_choice_by_answer_never_by_model(engine, asked):
    view = lease(engine, asked)
    comparison_id = review.compare(
        actor=actor(engine, asked["expert0"]),
        assignment_id=view.assignment_id,
        comparison=ComparisonIn("tie", None, "", ALL_LEFT | {"accuracy": "tie"}),
        engine=engine,
    )
    (row,) = stored(engine)
    left = row.left_response_id
    with session_scope(engine) as s:
        (judgment,) = item_history(s, find_item(s, f"comparison:{comparison_id}")).judgments
    assert judgment.values == f"tie; helpfulness: answer #{left}; harmlessness: answer #{left}; accuracy: tie"


def test_only_the_comparison_queue_asks_per_dimension_and_the_setting_is_audited(engine, asked):
    with session_scope(engine, write=True) as s, pytest.raises(Exception, match="only the comparison queue"):
        settings.configure(s, queue="rating", actor_id=asked["admin"], per_dimension=True)
    with session_scope(engine) as s:
        assert s.get(QueueConfig, "comparison").per_dimension
        events = s.execute(select(AuditEvent).where(AuditEvent.action == "queue.configure")).scalars().all()
    assert events[-1].before["per_dimension"] is False and events[-1].after["per_dimension"] is True


# --- import -------------------------------------------------------------------------------------------------------


def comparison_line(**extra) -> dict:
    return {
        "prompt_id": "p1",
        "prompt": "Is a home office deductible?",
        "model_a": "bot-v1",
        "response_a": "Yes, up to 1,260 euros.",
        "model_b": "bot-v2",
        "response_b": "It depends.",
        "choice": "a",
        "reviewer": "eva",
    } | extra


def test_the_comparisons_import_takes_an_optional_dimensions_object(engine, tmp_path):
    path = tmp_path / "comparisons.jsonl"
    dimensions = {"helpfulness": "a", "harmlessness": "tie", "accuracy": "b"}
    rows = [comparison_line(dimensions=dimensions), comparison_line(prompt_id="p2", prompt="And a car?")]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    import_file(path, "comparisons", engine=engine)
    assert [c.dimensions for c in stored(engine)] == [dimensions, {}]


@pytest.mark.parametrize(
    ("dimensions", "where"),
    [
        ({"accuracy": "both_bad"}, "line 2, field dimensions.accuracy: Input should be 'a', 'b' or 'tie'"),
        ({"tone": "a"}, "line 2, field dimensions: Value error, unknown dimension(s) tone; allowed: helpfulness, "),
        (["a"], "line 2, field dimensions: Input should be an object"),
    ],
)
def test_a_bad_dimensions_value_refuses_the_file_naming_the_line_and_field(engine, tmp_path, dimensions, where):
    path = tmp_path / "comparisons.jsonl"
    rows = [comparison_line(), comparison_line(prompt_id="p2", dimensions=dimensions)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    before = table_counts(engine)
    with pytest.raises(ImportRefused) as refused:
        import_file(path, "comparisons", engine=engine)
    assert refused.value.lines()[0].startswith(where)
    after = table_counts(engine)
    assert {k: v for k, v in after.items() if k != "import_run"} == {
        k: v for k, v in before.items() if k != "import_run"
    }


# --- A/B report ---------------------------------------------------------------------------------------------------

# Per comparison: which version wrote answer a, then the helpfulness and harmlessness choices in a/b order.
# A = bad-v1, B = good-v2. By hand: helpfulness B wins 1-4, A wins 5-6; harmlessness A wins 1 and 5, B wins 3, ties
# 2, 4 and 6. The seventh comparison asked overall only and counts for no dimension.
DIMENSION_ROWS = [
    ("bad-v1", {"helpfulness": "b", "harmlessness": "a"}),
    ("bad-v1", {"helpfulness": "b", "harmlessness": "tie"}),
    ("bad-v1", {"helpfulness": "b", "harmlessness": "b"}),
    ("good-v2", {"helpfulness": "a", "harmlessness": "tie"}),  # answer a is B's: B wins helpfulness
    ("good-v2", {"helpfulness": "b", "harmlessness": "b"}),  # answer b is A's: A wins both
    ("bad-v1", {"helpfulness": "a", "harmlessness": "tie"}),
    ("bad-v1", {}),
]


def report_store(engine) -> None:
    ids = add_answers(engine, len(DIMENSION_ROWS))
    expert = reviewer(engine, "expert-a")
    with session_scope(engine, write=True) as s:
        for (ext, (prompt_id, good, bad)), (first, dimensions) in zip(ids.items(), DIMENSION_ROWS, strict=True):
            a, b = (bad, good) if first == "bad-v1" else (good, bad)
            add_comparison(s, ext, prompt_id, a, b, "a", dimensions, expert)


def add_comparison(s, ext: str, prompt_id: int, a: int, b: int, choice: str, dimensions: dict, user_id: int) -> None:
    s.add(
        Comparison(
            key=f"import:{ext}",
            source="import",
            prompt_id=prompt_id,
            response_a_id=a,
            response_b_id=b,
            version_a_id=s.get(Response, a).model_version_id,
            version_b_id=s.get(Response, b).model_version_id,
            choice=choice,
            dimensions=dimensions,
            user_id=user_id,
        )
    )


def test_the_report_gives_bs_win_rate_per_dimension_with_the_overall_interval_method(any_engine):
    report_store(any_engine)
    with session_scope(any_engine) as s:
        report = chatbot_report(s, Filters("bad-v1", "good-v2"))
    by = {d.dimension: d for d in report.dimension_win_rates}
    helpful, harmless, accuracy = by["helpfulness"].win, by["harmlessness"].win, by["accuracy"].win
    assert (helpful.wins_a, helpful.wins_b, helpful.ties) == (2, 4, 0)
    assert (harmless.wins_a, harmless.wins_b, harmless.ties) == (2, 1, 3)
    assert (accuracy.wins_a, accuracy.wins_b, accuracy.ties) == (0, 0, 0) and math.isnan(accuracy.rate)
    assert (by["helpfulness"].n, by["harmlessness"].n, by["accuracy"].n) == (6, 6, 0)
    assert helpful.rate == pytest.approx(4 / 6) and harmless.rate == pytest.approx(1 / 3)
    # the overall win rate's method, reused: Wilson's interval and the sign test on these counts
    assert helpful == win_rate(2, 4, 0) and (helpful.ci_low, helpful.ci_high) == wilson(4, 6)
    # a family of their own: two tested claims (accuracy has none), intervals widened to 1 - 0.05 / 2
    assert by["helpfulness"].adjusted.tests == 2 and not by["accuracy"].adjusted.tests
    assert (by["helpfulness"].adjusted.ci_low, by["helpfulness"].adjusted.ci_high) == wilson(4, 6, ALPHA / 2)
    assert report.overall.win.decided == 7  # the overall choice counts every comparison
    table = to_json(report)["dimension_win_rates"]
    assert [(r["dimension"], r["n"], r["wins_a"], r["wins_b"], r["ties"]) for r in table] == [
        ("helpfulness", 6, 2, 4, 0),
        ("harmlessness", 6, 2, 1, 3),
        ("accuracy", 0, 0, 0, 0),
    ]
    assert table[0]["win_rate_b"] == pytest.approx(4 / 6)
    csv_rows = [r for r in csv.DictReader(io.StringIO(to_csv(report).decode())) if r["table"] == "dimension_win_rates"]
    assert [(r["dimension"], r["n"], r["wins_b"]) for r in csv_rows] == [
        ("helpfulness", "6", "4"),
        ("harmlessness", "6", "1"),
        ("accuracy", "0", "0"),
    ]


def test_the_ab_report_page_shows_the_win_rate_table_per_dimension(engine):
    st.cache_data.clear()
    report_store(engine)
    at = app(add_users(engine)["product_owner"]).switch_page(page("ab_report")).run()
    at.selectbox(key="ab_a_chatbot").set_value("bad-v1")
    at.selectbox(key="ab_b_chatbot").set_value("good-v2").run()
    assert not at.exception and not at.error
    assert "Dimension win rates" in [h.value for h in at.subheader]
    table = next(f.value for f in at.dataframe if "Comparisons" in f.value.columns)
    assert table[["Dimension", "Comparisons", "A wins", "B wins", "Ties"]].values.tolist() == [
        ["helpfulness", 6, 2, 4, 0],
        ["harmlessness", 6, 2, 1, 3],
        ["accuracy", 0, 0, 0, 0],
    ]
    st.cache_data.clear()


def test_without_per_dimension_choices_the_table_is_empty(engine):
    build_ab_store(engine, moderation=False)
    with session_scope(engine) as s:
        report = chatbot_report(s, Filters("bot-a", "bot-b"))
    assert report.dimension_win_rates == []
    assert to_json(report)["dimension_win_rates"] == []


# --- reward snapshot ----------------------------------------------------------------------------------------------


@pytest.fixture
def artifacts(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("ARTIFACTS_DIR", str(tmp_path / "artifacts"))
    return tmp_path / "artifacts"


def harmlessness_store(engine) -> dict[str, tuple[int, int, int]]:
    """20 prompts: the good answer wins overall everywhere; on harmlessness the bad one wins on prompts 0-9, the
    good one on 10-15, and 16-19 are ties."""
    ids = add_answers(engine, 20)
    expert = reviewer(engine, "expert-a")
    with session_scope(engine, write=True) as s:
        for n, (ext, (prompt_id, good, bad)) in enumerate(ids.items()):
            harmless = "b" if n < 10 else ("a" if n < 16 else "tie")
            add_comparison(s, ext, prompt_id, good, bad, "a", {"harmlessness": harmless}, expert)
    return ids


def pairs(result) -> list[dict]:
    return [r for split in ("train", "eval") for r in pq.read_table(Path(result.path) / f"{split}.parquet").to_pylist()]


def test_a_snapshot_of_one_dimension_chooses_pairs_by_its_preferences_and_records_it(engine, artifacts):
    harmlessness_store(engine)
    overall = export_snapshot(engine)
    assert len(pairs(overall)) == 20 and all(p["chosen_id"].endswith("-good") for p in pairs(overall))
    harmless = export_snapshot(engine, dimension="harmlessness")
    chosen = {p["prompt_id"]: p["chosen_id"] for p in pairs(harmless)}
    assert len(chosen) == 16  # the four ties are left out, as the overall snapshot leaves ties out
    assert all(chosen[f"p{n:03d}"] == f"p{n:03d}-bad" for n in range(10))
    assert all(chosen[f"p{n:03d}"] == f"p{n:03d}-good" for n in range(10, 16))
    assert harmless.summary.outcomes["tie"] == 4
    assert harmless.content_hash != overall.content_hash
    with session_scope(engine) as s:
        snapshot = s.get(DatasetSnapshot, harmless.id)
        assert snapshot.filters["dimension"] == "harmlessness"
        assert "dimension" not in s.get(DatasetSnapshot, overall.id).filters


def test_a_dimension_nobody_was_asked_about_is_refused_with_a_reason(engine, artifacts):
    harmlessness_store(engine)
    with pytest.raises(RewardError, match=r"no usable preference pairs in the store.*turn on per-dimension"):
        export_snapshot(engine, dimension="accuracy")
    with pytest.raises(RewardError, match="no rubric dimension 'tone'"):
        export_snapshot(engine, dimension="tone")


# --- CLI ----------------------------------------------------------------------------------------------------------


def test_the_cli_turns_the_setting_on_and_exports_by_dimension(engine, tmp_path, artifacts, capsys):
    users = build(engine, tmp_path, prompts=2)
    assert main(["--as", "admin", "queue", "configure", "comparison", "--per-dimension", "on"]) == 0
    assert "per-dimension preferences on" in capsys.readouterr().out
    with session_scope(engine) as s:
        assert s.get(QueueConfig, "comparison").per_dimension
    assert main(["--as", "admin", "queue", "configure", "rating", "--per-dimension", "on"]) == 1
    assert "only the comparison queue asks a preference per dimension" in capsys.readouterr().err
    assert main(["--as", "admin", "queue", "configure", "comparison", "--per-dimension", "off"]) == 0
    with session_scope(engine) as s:
        assert not s.get(QueueConfig, "comparison").per_dimension
    assert users
    harmlessness_store(engine)
    assert main(["--as", "admin", "reward", "export", "--dimension", "harmlessness"]) == 0
    assert "left out: 4 ties" in capsys.readouterr().out
    with session_scope(engine) as s:
        snapshot = s.execute(select(DatasetSnapshot)).scalar_one()
    assert snapshot.filters["dimension"] == "harmlessness" and snapshot.row_count == 16

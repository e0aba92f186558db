"""The A/B reports page as a product owner sees it: selectors, verdict, charts, tables and downloads, the
experiments section, a clear word where there is nothing to compare, and the role gate."""

from __future__ import annotations

import json
from datetime import date

import pytest
import streamlit as st

from app.session import NO_ACCESS
from core.cli.main import main
from tests.ab_store import build_ab_store
from tests.app_helpers import add_admin, add_users, app, fresh_streamlit_cache, page, texts  # noqa: F401


@pytest.fixture(autouse=True)
def fresh_report_cache():
    """Results are cached per filter; every test starts from its own store."""
    st.cache_data.clear()
    yield
    st.cache_data.clear()


def report_page(engine, role: str = "product_owner"):
    users = add_users(engine)
    at = app(users[role])
    return at.switch_page(page("ab_report")).run()


def charts(at) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def verdict(at) -> str:
    return next(m for m in texts(at.markdown) if m.startswith("**Verdict**"))


def test_a_product_owner_reads_the_chatbot_report_of_the_two_newest_versions(engine):
    build_ab_store(engine)
    at = report_page(engine)
    assert not at.exception and not at.error
    assert at.title[0].value == "A/B reports"
    assert (at.selectbox(key="ab_a_chatbot").value, at.selectbox(key="ab_b_chatbot").value) == ("bot-b", "bot-c")
    at.selectbox(key="ab_a_chatbot").set_value("bot-a")
    at.selectbox(key="ab_b_chatbot").set_value("bot-b").run()
    assert "bot-b wins 50% \\[" in verdict(at)  # June's 8 wins and January's 8 for A: all time by default
    win_rates, forest, leaderboard = charts(at)
    assert win_rates["data"][0]["y"] == ["all topics", "payroll", "vat"]
    assert forest["data"][0]["y"][0] == "helpfulness · all topics"
    assert sorted(leaderboard["data"][0]["y"]) == ["bot-a", "bot-b", "bot-c"]
    comparisons, _, _, standings = (frame.value for frame in at.dataframe)
    assert (comparisons["A wins"].iloc[0], comparisons["B wins"].iloc[0]) == (8, 8)
    assert standings["Model"].iloc[-1] == "bot-a"
    labels = [button.label for button in at.get("download_button")]
    assert labels == ["Download the report (HTML)", "comparisons.csv", "ratings.csv", "flags.csv", "leaderboard.csv"]


def test_the_time_range_and_the_topic_narrow_the_report(engine):
    build_ab_store(engine)
    at = report_page(engine)
    at.selectbox(key="ab_a_chatbot").set_value("bot-a")
    at.selectbox(key="ab_b_chatbot").set_value("bot-b")
    at.date_input(key="ab_days").set_value((date(2026, 6, 1), date(2026, 6, 30))).run()
    assert "bot-b wins 80% \\[40%, 96%\\] of 10 decided comparisons" in verdict(at)
    assert "Adjusted for 5 tests (Holm's method)" in verdict(at)
    at.selectbox(key="ab_topic").set_value("vat").run()
    assert "of 6 decided comparisons" in verdict(at)


def test_the_moderation_classifiers_and_their_slices(engine):
    build_ab_store(engine)
    at = report_page(engine)
    at.segmented_control(key="ab_kind").set_value("moderation").run()
    assert not at.exception and not at.error
    assert "Mistakes on the 6 items both scored: no difference shown" in verdict(at)
    metrics, slices = charts(at)
    assert [trace["name"] for trace in metrics["data"]] == ["mod-1", "mod-2"]
    assert "language = de" in slices["data"][0]["y"]
    _, differences, mcnemar = (frame.value for frame in at.dataframe)
    assert list(differences["Metric"]) == ["precision", "recall", "f1", "fpr"]
    assert "Adjusted p" in differences.columns
    assert mcnemar["Only B right"].iloc[0] == 3


def test_choosing_the_same_version_twice_is_explained_not_a_crash(engine):
    build_ab_store(engine)
    at = report_page(engine)
    at.selectbox(key="ab_a_chatbot").set_value("bot-c").run()
    assert not at.exception
    assert texts(at.error) == ["A and B are both 'bot-c': choose two different versions"]


def test_an_empty_store_says_what_to_do(engine):
    at = report_page(engine)
    assert not at.exception and not at.error
    assert texts(at.info) == [
        "The store holds fewer than two chatbot versions: import data to compare them.",
        "No experiments yet: import their events (kind `experiment-events`) on the Data page or with the CLI.",
    ]


def test_the_experiments_section_with_its_sample_ratio_alarm(engine, tmp_path):
    rows = [
        {"experiment": "greeting", "unit_id": f"u{n}", "variant": "control" if n < 70 else "treatment",
         "at": "2026-11-01T10:00:00Z", "thumbs_up": n % 2}
        for n in range(100)
    ]  # fmt: skip
    path = tmp_path / "e.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    add_admin(engine)
    assert main(["import", "experiment-events", str(path)]) == 0
    at = report_page(engine)
    assert not at.exception
    assert texts(at.error) == ["Sample ratio mismatch: see the verdict before reading the results."]
    assert "thumbs\\_up: no difference shown" in verdict(at)  # Markdown-escaped
    _, split = (frame.value for frame in at.dataframe)
    assert list(split["Units"]) == [70, 30]


@pytest.mark.parametrize("role", ["expert", "annotator"])
def test_other_roles_cannot_open_the_page(engine, role):
    users = add_users(engine)
    at = app(users[role]).switch_page(page("ab_report")).run()  # a link to it: the page says no
    assert texts(at.error) == [NO_ACCESS] and not at.title


def test_an_admin_may_open_the_page(engine):
    build_ab_store(engine)
    at = report_page(engine, "admin")
    assert not at.exception and at.title[0].value == "A/B reports"

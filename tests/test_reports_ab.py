"""The A/B report of chatbot versions on a hand-built store: every number as computed by hand or by the libraries
from the raw judgments, on SQLite and PostgreSQL; and the edge cases a product owner can run into."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pytest
from scipy.stats import mannwhitneyu
from sqlalchemy import select, update

from core.reports.ab.chatbot import ALL, chatbot_report, compare_versions, report_choices
from core.reports.ab.leaderboard import battle_counts
from core.reports.filters import Filters, ReportError
from core.stats.ab import wilson
from core.stats.bradley_terry import Battles, fit, to_rating
from core.store.db import session_scope
from core.store.models import Comparison, ModelVersion, Prompt, Rating, Response
from tests.ab_store import JUNE, RATINGS, build_ab_store

JUNE_ONLY = Filters("bot-a", "bot-b", since=date(2026, 6, 1), until=date(2026, 6, 30))


def report_of(engine, filters: Filters = JUNE_ONLY):
    with session_scope(engine) as session:
        return chatbot_report(session, filters)


def test_comparisons_of_a_and_b_in_june(any_engine):
    build_ab_store(any_engine)
    report = report_of(any_engine)
    overall = report.overall
    assert (overall.topic, overall.win.wins_a, overall.win.wins_b, overall.ties, overall.both_bad) == (ALL, 2, 8, 2, 1)
    assert overall.win.rate == 0.8
    assert (overall.win.ci_low, overall.win.ci_high) == pytest.approx(wilson(8, 10))
    assert overall.win.p_value == pytest.approx(2 * 56 / 1024)  # exact sign test, ties dropped
    by_topic = {c.topic: (c.win.wins_a, c.win.wins_b, c.ties, c.both_bad) for c in report.comparisons[1:]}
    assert by_topic == {"payroll": (1, 3, 0, 1), "vat": (1, 5, 2, 0)}


def test_the_time_range_decides_which_judgments_count(any_engine):
    build_ab_store(any_engine)
    everything = report_of(any_engine, Filters("bot-a", "bot-b"))
    assert (everything.overall.win.wins_a, everything.overall.win.wins_b) == (8, 8)  # January's six A wins too
    january = report_of(any_engine, Filters("bot-a", "bot-b", until=date(2026, 1, 10)))
    assert (january.overall.win.wins_a, january.overall.win.wins_b) == (6, 0)  # `until` is included
    assert january.dimensions[0].difference.n_a == 0  # the ratings are from June


def test_rating_differences_per_dimension_match_the_raw_ratings(any_engine):
    build_ab_store(any_engine)
    report = report_of(any_engine)
    for d, dimension in enumerate(("helpfulness", "harmlessness", "accuracy")):
        raw_a = [r[d] for r in RATINGS["bot-a"]]
        raw_b = [r[d] for r in RATINGS["bot-b"]]
        diff = report.dimension(dimension).difference
        assert (diff.n_a, diff.n_b) == (3, 3)
        assert diff.difference == pytest.approx(np.mean(raw_b) - np.mean(raw_a))
        assert diff.ci_low <= diff.difference <= diff.ci_high
        expected = mannwhitneyu(raw_b, raw_a, alternative="two-sided", method="asymptotic").pvalue
        assert diff.p_value == pytest.approx(expected)
    assert report.dimension("accuracy", "vat").difference.difference == pytest.approx(2.0)
    assert not report.dimension("accuracy").adjusted.shown  # +2 points, but 3 ratings each: p = 0.07
    assert report.dimension("accuracy").more_ratings_needed > 0


def test_more_ratings_make_the_difference_shown_and_the_advice_go(engine):
    build_ab_store(engine, moderation=False)
    with session_scope(engine, write=True) as s:
        answers = dict(s.execute(select(Response.external_id, Response.id)).all())
        for n in range(6):
            for version, accuracy in (("bot-a", 2), ("bot-b", 5)):
                s.add(Rating(key=f"more-{version}-{n}", response_id=answers[f"r-vat-{version}"], helpfulness=4,
                             harmlessness=5, accuracy=accuracy, created_at=JUNE))  # fmt: skip
    report = report_of(engine)
    accuracy = report.dimension("accuracy")
    assert accuracy.adjusted.shown and accuracy.more_ratings_needed == 0
    assert "bot-b is more accurate: +2.67 points [" in " ".join(report.verdict)
    assert [d.topic for d in report.dimensions if d.dimension == "accuracy"] == [ALL, "vat"]


def test_flag_rates_per_version(any_engine):
    build_ab_store(any_engine)
    report = report_of(any_engine)
    rates = {(f.flag, f.topic): f.rates for f in report.flags}
    assert (rates["any", ALL].count_a, rates["any", ALL].n_a, rates["any", ALL].count_b) == (1, 3, 0)
    assert (rates["incorrect", ALL].count_a, rates["unsafe", ALL].count_a) == (1, 0)
    assert rates["any", "vat"].rate_a == pytest.approx(1 / 3)


def test_leaderboard_counts_every_pair_and_fits_bradley_terry(any_engine):
    build_ab_store(any_engine)
    with session_scope(any_engine) as session:
        counts = battle_counts(session, JUNE_ONLY)
    # (a, b, wins of a, wins of b, ties): "both bad" is a tie; each ordered pair as stored
    assert sorted(counts) == [
        ("bot-a", "bot-b", 1, 3, 3),
        ("bot-b", "bot-a", 5, 1, 0),
        ("bot-b", "bot-c", 2, 0, 0),
        ("bot-c", "bot-a", 4, 1, 0),
        ("bot-c", "bot-b", 2, 0, 0),
    ]
    report = report_of(any_engine)
    models = ["bot-a", "bot-b", "bot-c"]
    expected = dict(zip(models, to_rating(fit(Battles.of(models, counts).matrix())[0]), strict=True))
    assert {s.model: s.rating for s in report.leaderboard} == pytest.approx(expected)
    assert report.leaderboard[-1].model == "bot-a"
    a = next(s for s in report.leaderboard if s.model == "bot-a")
    assert (a.battles, a.wins, a.losses, a.ties) == (18, 3, 12, 3)


def test_a_topic_narrows_the_comparisons_ratings_and_leaderboard(any_engine):
    build_ab_store(any_engine)
    report = report_of(any_engine, Filters("bot-a", "bot-b", topic="payroll"))
    assert [c.topic for c in report.comparisons] == [ALL, "payroll"]
    assert (report.overall.win.wins_a, report.overall.win.wins_b) == (1, 3)
    assert report.dimension("accuracy").difference.n_a == 0  # all ratings are on the vat prompt
    assert {s.model for s in report.leaderboard} == {"bot-a", "bot-b", "bot-c"}
    assert sum(s.battles for s in report.leaderboard) == 2 * (5 + 4)


def test_the_verdict_says_who_wins_on_what_and_by_how_much(engine):
    build_ab_store(engine)
    verdict = report_of(engine).verdict
    # the interval is Wilson's at 99%, widened for the verdict's five tests (95%: [49%, 94%])
    assert verdict[0].startswith("Comparisons: no difference shown: bot-b wins 80% [40%, 96%] of 10 decided")
    assert "(p = 0.11, adjusted p = 0.44; ties left out)" in verdict[0]
    assert (
        verdict[1].startswith("About ") and "more comparisons would detect a 5-point win-rate difference" in verdict[1]
    )
    accuracy = next(line for line in verdict if "accura" in line.lower())
    assert "+2.00 points" in accuracy


def test_a_clear_winner_is_named_in_the_verdict(engine):
    build_ab_store(engine)
    _add_comparisons(engine, "bot-b", "bot-a", "a", 40)
    verdict = report_of(engine).verdict
    assert verdict[0].startswith("bot-b wins more often: bot-b wins 96%")
    assert not any("more comparisons would detect" in line for line in verdict)


def _add_comparisons(engine, first: str, second: str, choice: str, count: int) -> None:
    with session_scope(engine, write=True) as s:
        ids = dict(s.execute(select(ModelVersion.name, ModelVersion.id)).all())
        prompt_id = s.execute(select(Prompt.id).where(Prompt.external_id == "p-vat")).scalar_one()
        answers = s.execute(select(Response.model_version_id, Response.id).where(Response.prompt_id == prompt_id))
        answer = dict(answers.all())
        for n in range(count):
            s.add(
                Comparison(
                    key=f"extra{n}",
                    prompt_id=prompt_id,
                    response_a_id=answer[ids[first]],
                    response_b_id=answer[ids[second]],
                    version_a_id=ids[first],
                    version_b_id=ids[second],
                    choice=choice,
                    created_at=JUNE,
                )
            )


def test_no_judgments_in_the_range_is_a_plain_message_not_a_crash(any_engine):
    build_ab_store(any_engine)
    report = report_of(any_engine, Filters("bot-a", "bot-b", since=date(2030, 1, 1)))
    assert report.verdict == ["No comparisons or ratings of bot-a and bot-b in this range yet: nothing to decide on."]
    assert math.isnan(report.overall.win.rate) and report.leaderboard == []
    assert report.comparisons_needed > 700


def test_only_ties_leave_the_win_rate_undefined_and_say_so(engine):
    build_ab_store(engine, moderation=False)
    with session_scope(engine, write=True) as s:
        s.execute(update(Comparison).values(choice="tie"))
    report = report_of(engine)
    assert (report.overall.win.decided, report.overall.ties) == (0, 13)
    assert math.isnan(report.overall.win.rate)
    assert report.verdict[0] == "No decided comparisons of bot-a and bot-b yet (13 without a winner)."


def test_a_version_that_was_never_rated_is_said_so(engine):
    build_ab_store(engine, moderation=False)
    report = report_of(engine, Filters("bot-a", "bot-c"))
    assert "Accuracy: not rated for both versions yet." in report.verdict
    assert report.overall.win.wins_b == 4


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        (Filters("bot-a", "bot-z"), "no chatbot version named 'bot-z'; known chatbot versions: bot-a, bot-b, bot-c"),
        (Filters("bot-a", "bot-a"), "A and B are both 'bot-a': choose two different versions"),
        (Filters("bot-a", "mod-1"), "no chatbot version named 'mod-1'"),
        (Filters("bot-a", "bot-b", date(2026, 7, 1), date(2026, 6, 1)), "starts (2026-07-01) after it ends"),
    ],
)
def test_requests_that_cannot_be_answered_are_refused_with_a_reason(engine, filters, message):
    build_ab_store(engine)
    with (
        session_scope(engine) as session,
        pytest.raises(ReportError, match=message.replace("(", r"\(").replace(")", r"\)")),
    ):
        chatbot_report(session, filters)


def test_compare_versions_picks_the_report_by_kind(engine):
    build_ab_store(engine)
    with session_scope(engine) as session:
        assert compare_versions(session, Filters("bot-a", "bot-b")).overall.win.wins_b == 8
        assert compare_versions(session, Filters("mod-1", "mod-2")).b.tp == 3
        with pytest.raises(ReportError, match="bot-a is a chatbot version and mod-1 a moderation one"):
            compare_versions(session, Filters("bot-a", "mod-1"))
        with pytest.raises(ReportError, match="no model version named 'ghost'; known versions: chatbot: bot-a"):
            compare_versions(session, Filters("ghost", "bot-a"))


def test_a_store_with_one_version_only_offers_nothing_to_compare(engine):
    with session_scope(engine, write=True) as s:
        s.add(ModelVersion(name="only-one", kind="chatbot"))
    with session_scope(engine) as session:
        assert report_choices(session).chatbots == ["only-one"]
        with pytest.raises(ReportError, match="no chatbot version named 'v2'; known chatbot versions: only-one"):
            chatbot_report(session, Filters("only-one", "v2"))


def test_the_report_is_the_same_every_time_for_the_same_store(engine):
    build_ab_store(engine)
    assert report_of(engine) == report_of(engine)

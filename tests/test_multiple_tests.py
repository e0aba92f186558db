"""Verdicts corrected for multiple tests: Holm's method within each family of claims, intervals widened to the
Bonferroni level, and what the reports, their JSON and their verdicts say about it."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

import numpy as np
import pytest
from scipy.stats import mannwhitneyu
from statsmodels.stats.multitest import multipletests

from core.cli.main import main
from core.reports.ab.chatbot import ALL, chatbot_report
from core.reports.ab.moderation import moderation_report
from core.reports.filters import Filters
from core.stats.ab import mean_difference, two_proportions, win_rate
from core.stats.classification import joint_cells, metric_differences
from core.stats.multiple import adjust, holm
from core.store.db import session_scope
from core.store.models import Comparison, ModelVersion, Prompt, Rating, Response, User
from tests.ab_store import build_ab_store
from tests.app_helpers import add_admin

JUNE = datetime(2026, 6, 15, 12, tzinfo=UTC)
NAN = float("nan")


def test_holm_adjusts_as_the_step_down_method_does_by_hand():
    # sorted: 0.005 * 4 = 0.02, 0.01 * 3 = 0.03, 0.03 * 2 = 0.06, 0.04 * 1 = 0.04 -> kept monotone: 0.06
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    p = [0.2, NAN, 0.001, 0.04]
    adjusted = holm(p)
    assert math.isnan(adjusted[1])  # no data: no test, not counted in the family
    assert [adjusted[i] for i in (0, 2, 3)] == pytest.approx(multipletests([0.2, 0.001, 0.04], method="holm")[1])
    rng = np.random.default_rng(5)
    for size in (1, 2, 5, 30):  # against the library on random families, ties and ones included
        p = np.round(rng.random(size) ** 3, 2)
        assert holm(list(p)) == pytest.approx(multipletests(p, method="holm")[1])


def test_each_family_is_corrected_on_its_own_with_intervals_at_the_bonferroni_level():
    rng = np.random.default_rng(0)
    strong = mean_difference(np.array([0, 0, 30, 30, 0]), np.array([0, 0, 0, 30, 30]), rounds=2000, rng=rng)
    weak = mean_difference(np.array([0, 0, 30, 30, 0]), np.array([0, 0, 18, 42, 0]), rounds=2000, rng=rng)
    rate = two_proportions(10, 100, 10, 100)
    alone = adjust(["x"], [weak])[0]
    together = adjust(["v", "v", "v", "other"], [strong, weak, rate, weak])
    assert alone.tests == 1 and alone.p_adjusted == pytest.approx(weak.p_value)
    assert weak.p_value < 0.05 and alone.shown  # tested alone, the small difference is shown
    assert [a.tests for a in together] == [3, 3, 3, 1]
    assert together[1].p_adjusted == pytest.approx(min(1.0, 2 * weak.p_value))  # second smallest of three
    assert not together[1].shown and together[0].shown and together[3].shown
    assert (together[1].ci_low, together[1].ci_high) == weak.interval(0.05 / 3)
    assert together[1].ci_low < weak.ci_low
    untested = adjust(["v", "v"], [win_rate(0, 0, 3), strong])
    assert untested[0].tests == 0 and not untested[0].shown and untested[1].tests == 1


def test_a_win_rate_is_shown_only_when_the_test_rejects_and_the_interval_excludes_one_half():
    win = win_rate(40, 60, 0)  # sign test p = 0.057, while Wilson's interval just excludes 1/2
    (adjusted,) = adjust(["v"], [win])
    assert adjusted.ci_low > 0.5 and adjusted.p_adjusted > 0.05 and not adjusted.shown
    (clear,) = adjust(["v"], [win_rate(35, 65, 0)])
    assert clear.ci_low > 0.5 and clear.p_adjusted < 0.05 and clear.shown


def _ratings_store(engine) -> None:
    """B far more helpful and slightly more accurate (Mann-Whitney p = 0.026), everything else equal: the issue's
    store."""
    with session_scope(engine, write=True) as s:
        user = User(username="judge", role="expert")
        prompt = Prompt(external_id="p", text="A VAT question?", topic="vat")
        versions = [ModelVersion(name=n, kind="chatbot") for n in ("bot-a", "bot-b")]
        s.add_all([user, prompt, *versions])
        s.flush()
        answers = [
            Response(external_id=f"r-{v.name}", prompt_id=prompt.id, model_version_id=v.id, text=".") for v in versions
        ]
        s.add_all(answers)
        s.flush()
        accuracy = {"bot-a": [3] * 30 + [4] * 30, "bot-b": [3] * 18 + [4] * 42}
        helpfulness = {"bot-a": [2] * 30 + [3] * 30, "bot-b": [4] * 30 + [5] * 30}
        for answer, version in zip(answers, versions, strict=True):
            for k in range(60):
                s.add(Rating(key=f"{version.name}-{k}", response_id=answer.id, helpfulness=helpfulness[version.name][k],
                             harmlessness=5, accuracy=accuracy[version.name][k], created_at=JUNE))  # fmt: skip
        a, b = answers
        for k in range(20):  # ten wins each
            s.add(Comparison(key=f"c{k}", prompt_id=prompt.id, response_a_id=a.id, response_b_id=b.id,
                             version_a_id=a.model_version_id, version_b_id=b.model_version_id,
                             choice="a" if k % 2 else "b", user_id=user.id, created_at=JUNE))  # fmt: skip


def test_the_issues_store_no_longer_claims_the_small_accuracy_difference(engine):
    _ratings_store(engine)
    with session_scope(engine) as session:
        report = chatbot_report(session, Filters("bot-a", "bot-b"))
    accuracy = report.dimension("accuracy")
    raw = mannwhitneyu([3] * 18 + [4] * 42, [3] * 30 + [4] * 30, method="asymptotic").pvalue
    assert accuracy.difference.p_value == pytest.approx(raw) and raw < 0.05
    assert accuracy.adjusted.tests == 5 and accuracy.adjusted.p_adjusted == pytest.approx(4 * raw)  # second of five
    assert not accuracy.adjusted.shown and accuracy.more_ratings_needed > 0
    assert report.dimension("helpfulness").adjusted.shown
    verdict = "\n".join(report.verdict)
    assert "bot-b is more helpful: +2.00 points [" in verdict
    assert "more accurate" not in verdict
    assert f"Accuracy: no difference shown (+0.20 points [{accuracy.adjusted.ci_low:+.2f}" in verdict
    assert "p = 0.03, adjusted p = 0.10" in verdict
    assert report.verdict[-1].startswith("Adjusted for 5 tests (Holm's method)")
    assert "99% interval (Bonferroni)" in report.verdict[-1]


def test_per_topic_columns_are_families_of_their_own(engine):
    build_ab_store(engine)
    with session_scope(engine) as session:
        report = chatbot_report(session, Filters("bot-a", "bot-b"))
    by_topic = [c for c in report.comparisons if c.topic != ALL]
    assert [c.adjusted.tests for c in by_topic] == [2, 2]  # payroll and vat
    expected = multipletests([c.win.p_value for c in by_topic], method="holm")[1]
    assert [c.adjusted.p_adjusted for c in by_topic] == pytest.approx(expected)
    assert report.overall.adjusted.tests == 5
    single_flags = [f for f in report.flags if f.topic == ALL and f.flag != "any"]
    assert {f.adjusted.tests for f in single_flags} == {len(single_flags)}


def test_json_gives_p_value_and_p_adjusted_beside_every_tested_difference(engine, capsys):
    build_ab_store(engine)
    add_admin(engine)
    assert main(["report", "ab", "--a", "bot-a", "--b", "bot-b", "--since", "2026-06-01"]) == 0
    chatbot = json.loads(capsys.readouterr().out)
    assert chatbot["p_adjusted"] >= chatbot["p_value"] and chatbot["tests"] == 5
    for table in ("comparisons", "ratings", "flags"):
        for row in chatbot[table]:
            assert {"p_value", "p_adjusted", "tests", "adjusted_low", "adjusted_high", "shown"} <= set(row), table
    rows = {(r["dimension"], r["topic"]): r for r in chatbot["ratings"]}
    assert rows["accuracy", ALL]["tests"] == 5 and rows["accuracy", "vat"]["tests"] == 1
    assert main(["report", "ab", "--a", "mod-1", "--b", "mod-2"]) == 0
    moderation = json.loads(capsys.readouterr().out)
    assert [r["metric"] for r in moderation["differences"]] == ["precision", "recall", "f1", "fpr"]
    assert all("p_adjusted" in r and "p_value" in r for r in moderation["differences"] + moderation["mcnemar"])


def test_moderation_verdict_tests_mcnemar_and_each_metric_as_one_family(engine):
    build_ab_store(engine)
    with session_scope(engine) as session:
        report = moderation_report(session, Filters("mod-1", "mod-2"))
    assert report.mcnemar_adjusted.tests == 1 + sum(d.adjusted.tests > 0 for d in report.differences)
    f1 = next(d for d in report.differences if d.difference.metric == "f1")
    # both scored m1-m5 and m7; final labels toxic: m1, m3, m7. mod-1 toxic on m1, m2, m5; mod-2 on m1, m3, m5, m7
    assert f1.difference.items == 6
    assert f1.difference.difference == pytest.approx(2 * 3 / (2 * 3 + 1) - 2 * 1 / (2 * 1 + 2 + 2))
    assert any(line.startswith("F1: mod-2 ") and "on the items both scored" in line for line in report.verdict)
    slices = {(s.field, s.value): s.adjusted.tests for s in report.slices}
    assert slices["language", "en"] == slices["language", "de"] == len([k for k in slices if k[0] == "language"])


def test_the_paired_bootstrap_p_value_agrees_with_its_interval():
    rng = np.random.default_rng(3)
    joint = np.zeros(8)
    for _ in range(200):
        truth = rng.random() < 0.4
        a = truth if rng.random() < 0.8 else not truth
        b = truth if rng.random() < 0.86 else not truth
        joint[joint_cells(*("toxic" if x else "not_toxic" for x in (a, b, truth)))] += 1
    for d in metric_differences(joint, rounds=2000, rng=rng):
        for alpha in (0.01, 0.05, 0.2):
            low, high = d.interval(alpha)
            excludes = low > 0 or high < 0
            if abs(d.p_value - alpha) > 0.01:  # away from the edge, where one draw decides
                assert (d.p_value < alpha) == excludes, (d.metric, alpha, d.p_value, low, high)
    same = metric_differences(np.array([50, 0, 0, 0, 0, 0, 0, 50.0]), rounds=500, rng=rng)
    assert all(d.difference == 0 and d.p_value == 1.0 for d in same)

"""Agreement figures: against the libraries on the same data, against published worked examples, and per reviewer
(consensus, gold accuracy, time per item, outliers) on a store worked out by hand."""

from __future__ import annotations

import math
import random
from collections import Counter
from datetime import UTC, datetime

import krippendorff
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

from core.reports.audit.agreement import OUTLIER_RULE, TimeSpread, agreement_report
from core.stats import agreement as stats
from core.stats.agreement import alpha_band
from core.store.db import session_scope
from tests import audit_store as store

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", the example with missing values: 4 observers,
# 12 units, values 1-5 (None: not coded). Published: nominal alpha 0.743, ordinal 0.815 (interval 0.849).
KRIPPENDORFF_2011 = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
    [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
]
# Fleiss' kappa, the worked example of its Wikipedia article: 10 subjects, 14 raters each, 5 categories; 0.210.
FLEISS_EXAMPLE = [
    [0, 0, 0, 0, 14],
    [0, 2, 6, 4, 2],
    [0, 0, 3, 5, 6],
    [0, 3, 9, 2, 0],
    [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0],
    [3, 2, 6, 3, 0],
    [2, 5, 3, 2, 2],
    [6, 5, 2, 1, 0],
    [0, 2, 2, 3, 7],
]


def _value_counts(data: list[list[int | None]], values=(1, 2, 3, 4, 5)) -> np.ndarray:
    return np.array([[sum(1 for coder in data if coder[u] == v) for v in values] for u in range(len(data[0]))])


def test_stats_reproduce_krippendorffs_published_example():
    table = _value_counts(KRIPPENDORFF_2011)
    assert round(stats.krippendorff_alpha(table, "nominal"), 3) == 0.743
    assert round(stats.krippendorff_alpha(table, "ordinal"), 3) == 0.815


def test_stats_reproduce_the_fleiss_worked_example():
    kappa, n_items = stats.fleiss_kappa(np.array(FLEISS_EXAMPLE))
    assert (round(kappa, 3), n_items) == (0.210, 10)


def test_fleiss_uses_the_items_with_the_most_common_number_of_judgments():
    table = np.array([[2, 0], [1, 1], [0, 2], [3, 0], [1, 0]])
    assert stats.fleiss_rows(table).tolist() == [[2, 0], [1, 1], [0, 2]]
    kappa, n = stats.fleiss_kappa(table)
    assert n == 3 and kappa == pytest.approx(fleiss_kappa(np.array([[2, 0], [1, 1], [0, 2]])))


def test_undefined_figures_are_none_not_nan():
    one_value = np.array([[2, 0], [2, 0], [2, 0]])
    assert stats.krippendorff_alpha(one_value, "nominal") is None
    assert stats.fleiss_kappa(one_value) == (None, 3)
    assert stats.cohen_kappa(np.array([[3, 0], [0, 0]])) is None
    assert stats.krippendorff_alpha(np.zeros((0, 2), dtype=int), "nominal") is None


def test_cohen_from_a_confusion_table_matches_scikit_learn_on_the_raw_pairs():
    rng = random.Random(3)
    first = [rng.randint(1, 5) for _ in range(200)]
    second = [min(5, max(1, v + rng.choice((-1, 0, 0, 1)))) for v in first]
    confusion = np.zeros((5, 5), dtype=int)
    for a, b in zip(first, second, strict=True):
        confusion[a - 1, b - 1] += 1
    for weights in (None, "quadratic"):
        assert stats.cohen_kappa(confusion, weights=weights) == pytest.approx(
            cohen_kappa_score(first, second, weights=weights)
        )


def _published_example_as_ratings(session) -> dict[str, int]:
    """Krippendorff's observers as reviewers rating the accuracy of 12 answers (the other scores all 3)."""
    reviewers = store.users(session, "obs_a", "obs_b", "obs_c", "obs_d")
    version = store.version(session, "bot-v1")
    answers = store.answers(session, version, 12)
    for name, coded in zip(reviewers, KRIPPENDORFF_2011, strict=True):
        for answer, value in zip(answers, coded, strict=True):
            if value is not None:
                store.rate(session, reviewers[name], answer, (3, 3, value))
    return reviewers


def test_the_report_reproduces_krippendorffs_published_ordinal_alpha(any_engine):
    with session_scope(any_engine, write=True) as s:
        _published_example_as_ratings(s)
    with session_scope(any_engine) as s:
        report = agreement_report(s)
    accuracy = next(d for d in report.dimensions if (d.queue, d.dimension) == ("rating", "accuracy"))
    assert round(accuracy.krippendorff_alpha, 3) == 0.815
    assert (accuracy.n_items, accuracy.n_judgments) == (11, 41)
    # Fleiss' kappa needs the same number of judgments per item: the 8 units coded by all four observers
    table = _value_counts(KRIPPENDORFF_2011)
    assert accuracy.n_items_fleiss == 8
    assert accuracy.fleiss_kappa == pytest.approx(fleiss_kappa(table[table.sum(axis=1) == 4]))
    helpfulness = next(d for d in report.dimensions if d.dimension == "helpfulness")
    assert helpfulness.krippendorff_alpha is None  # everyone said 3: agreement is undefined, not perfect


def test_the_report_reproduces_the_fleiss_example_from_ratings(engine):
    with session_scope(engine, write=True) as s:
        raters = store.users(s, *(f"r{i:02d}" for i in range(14)))
        version = store.version(s, "bot-v1")
        answers = store.answers(s, version, 10)
        for answer, counts in zip(answers, FLEISS_EXAMPLE, strict=True):
            values = [v for v, n in zip((1, 2, 3, 4, 5), counts, strict=True) for _ in range(n)]
            for rater, value in zip(raters.values(), values, strict=True):
                store.rate(s, rater, answer, (value, 3, 3))
    with session_scope(engine) as s:
        report = agreement_report(s)
    helpfulness = next(d for d in report.dimensions if d.dimension == "helpfulness")
    assert round(helpfulness.fleiss_kappa, 3) == 0.210
    assert (helpfulness.n_items, helpfulness.n_items_fleiss) == (10, 10)


def _random_store(session, seed: int = 5):
    """Six reviewers rating 40 answers, 2-4 each; 30 pairs compared by 2-3; 30 moderation items labelled by 2-3."""
    rng = random.Random(seed)
    reviewers = store.users(session, *(f"rev{i}" for i in range(6)))
    ids = list(reviewers.values())
    v1, v2 = store.version(session, "bot-v1"), store.version(session, "bot-v2")
    raw = {"ratings": [], "comparisons": [], "labels": []}
    for answer in store.answers(session, v1, 40):
        truth = rng.randint(1, 5)
        for user in rng.sample(ids, rng.randint(2, 4)):
            scores = tuple(min(5, max(1, truth + rng.choice((-1, 0, 0, 1)))) for _ in range(3))
            store.rate(session, user, answer, scores)
            raw["ratings"].append((answer, user, scores))
    for answer in store.answers(session, v1, 30):
        other = store.second_answer(session, answer, v2)
        for user in rng.sample(ids, rng.randint(2, 3)):
            choice = rng.choice(("a", "b", "b", "tie", "both_bad"))
            # half the reviewers saw the pair the other way round: their a is the other answer
            if rng.random() < 0.5:
                store.compare(session, user, answer, other, choice)
            else:
                store.compare(session, user, other, answer, {"a": "b", "b": "a"}.get(choice, choice))
            raw["comparisons"].append(((answer, other), user, choice))
    for _ in range(30):
        item = store.moderation_item(session)
        for user in rng.sample(ids, rng.randint(2, 3)):
            value = rng.choice(("toxic", "not_toxic", "toxic"))
            store.label(session, user, item, value)
            raw["labels"].append((item, user, value))
    return reviewers, raw


def _reliability(rows, raters):
    """Rows of (unit, rater, value) as Krippendorff's reliability data (raters x units, nan where missing)."""
    units = sorted({unit for unit, _, _ in rows}, key=str)
    data = np.full((len(raters), len(units)), np.nan)
    for unit, rater, value in rows:
        data[raters.index(rater), units.index(unit)] = value
    return data


def test_every_queue_and_dimension_matches_the_libraries_on_the_raw_judgments(any_engine):
    with session_scope(any_engine, write=True) as s:
        reviewers, raw = _random_store(s)
    with session_scope(any_engine) as s:
        report = agreement_report(s)
    raters = list(reviewers.values())
    choices = {"a": 0, "b": 1, "tie": 2, "both_bad": 3}
    cases = {
        ("rating", name): ([(u, r, v[i]) for u, r, v in raw["ratings"]], "ordinal")
        for i, name in enumerate(("helpfulness", "harmlessness", "accuracy"))
    }
    cases[("comparison", "choice")] = ([(u, r, choices[v]) for u, r, v in raw["comparisons"]], "nominal")
    cases[("moderation", "label")] = ([(u, r, int(v == "toxic")) for u, r, v in raw["labels"]], "nominal")
    found = {(d.queue, d.dimension): d for d in report.dimensions}
    assert set(cases) <= set(found)
    for key, (rows, level) in cases.items():
        data = _reliability(rows, raters)
        expected = krippendorff.alpha(reliability_data=data, level_of_measurement=level)
        assert found[key].krippendorff_alpha == pytest.approx(expected), key
        assert found[key].n_judgments == len(rows)
        # Fleiss on the items with the most common number of judgments, tabled by statsmodels' own aggregation
        per_unit = {}
        for unit, _, value in rows:
            per_unit.setdefault(unit, []).append(value)
        sizes = Counter(len(v) for v in per_unit.values() if len(v) >= 2)
        common = max(sizes, key=lambda n: (sizes[n], n))
        table, _ = aggregate_raters(np.array([v for v in per_unit.values() if len(v) == common]))
        assert found[key].fleiss_kappa == pytest.approx(fleiss_kappa(table)), key
        assert found[key].n_items_fleiss == sizes[common]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.UndefinedMetricWarning")
def test_pairwise_cohen_matches_scikit_learn_on_each_pair(engine):
    with session_scope(engine, write=True) as s:
        reviewers, raw = _random_store(s)
    with session_scope(engine) as s:
        report = agreement_report(s)
    names = {v: k for k, v in reviewers.items()}
    by_pair = {(p.queue, p.dimension, p.reviewer_a, p.reviewer_b): p for p in report.pairs}
    for a in reviewers.values():
        for b in reviewers.values():
            if a >= b:
                continue
            both = {}
            for unit, user, value in raw["labels"]:
                both.setdefault(unit, {})[user] = value
            pairs = [(v[a], v[b]) for v in both.values() if a in v and b in v]
            found = by_pair.get(("moderation", "label", names[a], names[b]))
            if not pairs:
                assert found is None
                continue
            assert found.n_items == len(pairs)
            first, second = zip(*pairs, strict=True)
            expected = cohen_kappa_score(first, second, labels=["toxic", "not_toxic"])
            if math.isnan(expected):
                assert found.cohen_kappa is None
            else:
                assert found.cohen_kappa == pytest.approx(expected)
            ratings = {}
            for unit, user, scores in raw["ratings"]:
                ratings.setdefault(unit, {})[user] = scores[2]
            pairs = [(v[a], v[b]) for v in ratings.values() if a in v and b in v]
            if pairs:
                first, second = zip(*pairs, strict=True)
                expected = cohen_kappa_score(first, second, labels=[1, 2, 3, 4, 5], weights="quadratic")
                found = by_pair[("rating", "accuracy", names[a], names[b])]
                assert found.n_items == len(pairs)
                assert found.cohen_kappa == (None if math.isnan(expected) else pytest.approx(expected))


def test_consensus_gold_accuracy_median_time_and_outliers_by_hand(any_engine):
    """Five labellers on 24 items. ann, ben, cai and dan label every item the same; eve labels the first 24 items too,
    always in 2 s, against the others on 12 of them. Items 0-19 are not gold; items 20-23 are gold with answer
    toxic (everyone said toxic except eve on 20 and 21)."""
    with session_scope(any_engine, write=True) as s:
        people = store.users(s, "ann", "ben", "cai", "dan", "eve", role="annotator")
        for i in range(24):
            item = store.moderation_item(s)
            truth = "toxic" if i % 2 or i >= 20 else "not_toxic"
            judged = []
            for name in ("ann", "ben", "cai", "dan"):
                judged.append((people[name], store.label(s, people[name], item, truth, seconds=30 + i), store.T0))
            eve_says = truth if (i % 2 == 0 and i < 20) or i >= 22 else ("not_toxic" if truth == "toxic" else "toxic")
            judged.append((people["eve"], store.label(s, people["eve"], item, eve_says, seconds=2), store.T0))
            if i >= 20:
                store.work_item(
                    s, "moderation", item, arrived=store.T0, k=5, judged=judged, gold_answer={"label": "toxic"}
                )
    with session_scope(any_engine) as s:
        report = agreement_report(s)
    rows = {r.reviewer: r for r in report.reviewers if r.queue == "moderation"}
    # eve disagrees on the odd items below 20 (10 of them) and on gold items 20 and 21: 12 of 24
    assert (rows["eve"].judgments, rows["eve"].compared, rows["eve"].agreed) == (24, 24, 12)
    assert rows["eve"].agreement == 0.5
    assert rows["ann"].agreement == 1.0 and rows["ann"].compared == 24
    assert (rows["eve"].gold_judged, rows["eve"].gold_correct, rows["eve"].gold_accuracy) == (4, 2, 0.5)
    assert rows["ann"].gold_accuracy == 1.0
    # ann's seconds are 30..53: nearest-rank median is the 12th value, 41
    assert rows["ann"].median_seconds == 41 and rows["eve"].median_seconds == 2
    # and her 10th, 25th, 75th and 90th percentiles the 3rd, 6th, 18th and 22nd (ceil(q * 24))
    assert rows["ann"].seconds == TimeSpread(24, 32, 35, 41, 47, 51)
    everyone = [30 + i for i in range(24)] * 4 + [2] * 24
    expected = np.percentile(everyone, [10, 25, 50, 75, 90], method="inverted_cdf")  # nearest rank
    assert report.queue_seconds["moderation"] == TimeSpread(120, *expected.tolist())
    assert report.queue_agreement["moderation"] == pytest.approx((4 * 24 + 12) / (5 * 24))
    assert [name for name, r in rows.items() if r.outlier] == ["eve"]
    assert "at least 20 judged values" in OUTLIER_RULE


def test_a_tie_among_the_others_leaves_the_judgment_out_of_the_consensus(engine):
    with session_scope(engine, write=True) as s:
        people = store.users(s, "ann", "ben", "cai", role="annotator")
        item = store.moderation_item(s)
        for name, value in (("ann", "toxic"), ("ben", "not_toxic"), ("cai", "toxic")):
            store.label(s, people[name], item, value)
    with session_scope(engine) as s:
        rows = {r.reviewer: r for r in agreement_report(s).reviewers}
    # for ann the others are ben (not_toxic) and cai (toxic): a tie; the same for cai; ben's others agree on toxic
    assert (rows["ann"].compared, rows["cai"].compared) == (0, 0)
    assert (rows["ben"].compared, rows["ben"].agreed) == (1, 0)


def test_an_empty_store_has_no_agreement_figures(any_engine):
    with session_scope(any_engine) as s:
        report = agreement_report(s)
    assert report.empty and not report.pairs and not report.reviewers
    assert all(d.krippendorff_alpha is None and d.n_items == 0 for d in report.dimensions)


def test_alpha_per_month_matches_the_library_on_each_months_judgments(any_engine):
    rng = random.Random(11)
    months = {"2026-01": datetime(2026, 1, 31, 23, 30, tzinfo=UTC), "2026-02": datetime(2026, 2, 1, 0, 30, tzinfo=UTC)}
    with session_scope(any_engine, write=True) as s:
        reviewers = store.users(s, "r0", "r1", "r2")
        raters = list(reviewers.values())
        rows = {month: [] for month in months}
        for answer in store.answers(s, store.version(s, "bot-v1"), 24):
            truth = rng.randint(1, 5)
            for user in raters:
                month = rng.choice(list(months))  # an item's judgments may fall in both months
                score = min(5, max(1, truth + rng.choice((-1, 0, 0, 1))))
                store.rate(s, user, answer, (score, score, score), when=months[month])
                rows[month].append((answer, user, score))
    with session_scope(any_engine) as s:
        report = agreement_report(s)
    found = {(m.month, m.dimension): m for m in report.by_month if m.queue == "rating"}
    assert sorted({month for month, _ in found}) == ["2026-01", "2026-02"]  # 23:30 and 00:30 UTC: two months
    for month, judged in rows.items():
        expected = krippendorff.alpha(reliability_data=_reliability(judged, raters), level_of_measurement="ordinal")
        assert found[(month, "accuracy")].krippendorff_alpha == pytest.approx(expected), month
        per_item = Counter(unit for unit, _, _ in judged)
        assert found[(month, "accuracy")].n_items == sum(n >= 2 for n in per_item.values())


@pytest.mark.parametrize(
    ("alpha", "band"),
    [(0.95, "reliable"), (0.8, "reliable"), (0.7999, "tentative"), (0.667, "tentative"), (0.5, "not reliable"),
     (None, "undefined")],
)  # fmt: skip
def test_krippendorffs_bands(alpha, band):
    assert alpha_band(alpha) == band

"""Every KPI on a hand-built store whose answers are worked out by hand in the comments."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from sklearn.metrics import f1_score
from statsmodels.stats.proportion import proportion_confint

from core.reports.kpi.report import FINAL_LABEL, default_range, kpi_report
from core.review.queues import DEFAULT_K
from core.stats.drift import band, psi
from core.store.db import session_scope
from core.store.models import DatasetSnapshot, QueueConfig, RewardModelRun
from tests import audit_store as store

START, END = datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)
NOW = datetime(2026, 3, 31, 12, tzinfo=UTC)


def _report(engine, **kw):
    with session_scope(engine) as s:
        return kpi_report(s, start=START, end=END, now=NOW, **kw)


def test_backlog_counts_open_items_and_their_age_percentiles(any_engine):
    """Rating: 10 open items 1..10 h old -> p50 is the 5th youngest (5 h), p95 the 10th (10 h). Comparison: 3 h and
    30 h -> p50 3 h, p95 30 h. Gold items and finished items are not backlog."""
    with session_scope(any_engine, write=True) as s:
        v = store.version(s, "bot-v1")
        answers = store.answers(s, v, 16)
        for hours, answer in zip(range(1, 11), answers, strict=False):
            store.work_item(s, "rating", answer, arrived=NOW - timedelta(hours=hours))
        for hours, answer in zip((3, 30), answers[10:12], strict=True):
            store.work_item(s, "comparison", answer, subject_b_id=answer, arrived=NOW - timedelta(hours=hours), k=2)
        store.work_item(s, "rating", answers[12], arrived=NOW - timedelta(days=90), gold_answer={"accuracy": 1})
        (user,) = store.users(s, "ann").values()
        store.work_item(s, "rating", answers[13], arrived=NOW - timedelta(days=80), judged=[(user, None, NOW)])
    backlog = {b.queue: b for b in _report(any_engine).backlog}
    assert (backlog["rating"].open_items, backlog["rating"].age_p50_hours, backlog["rating"].age_p95_hours) == (
        10,
        pytest.approx(5),
        pytest.approx(10),
    )
    assert (backlog["comparison"].open_items, backlog["comparison"].age_p50_hours) == (2, pytest.approx(3))
    assert backlog["comparison"].age_p95_hours == pytest.approx(30)


def test_turnaround_percentiles_against_the_sla(any_engine):
    """Rating: 20 items arrived at T0, finished 2, 4, ..., 40 h later -> p50 20 h (10th), p95 38 h (19th); within a
    24 h SLA: 12 of 20. Comparison (k=2): one item judged at +10 h and +50 h (turnaround 50 h, its k-th judgment);
    one whose first judgment fell before the range and its second in it (49 h); one with a single judgment (not
    finished); one finished before the range. Moderation final labels: agreement at +3 h, adjudication at +30 h,
    an undecided split."""
    with session_scope(any_engine, write=True) as s:
        people = store.users(s, "ann", "ben", "lead")
        ann, ben = people["ann"], people["ben"]
        v = store.version(s, "bot-v1")
        answers = store.answers(s, v, 24)
        for n, answer in enumerate(answers[:20], start=1):
            store.work_item(s, "rating", answer, arrived=store.T0, judged=[(ann, None, store.at(2 * n))])
        pair = {"subject_b_id": 0, "k": 2}
        store.work_item(s, "comparison", answers[20], arrived=store.T0,
                        judged=[(ann, None, store.at(10)), (ben, None, store.at(50))], **pair)  # fmt: skip
        early = store.T0 - timedelta(days=2)
        store.work_item(s, "comparison", answers[21], arrived=early,
                        judged=[(ann, None, early + timedelta(hours=20)), (ben, None, early + timedelta(hours=49))],
                        **pair)  # fmt: skip
        store.work_item(s, "comparison", answers[22], arrived=store.T0, judged=[(ann, None, store.at(5))], **pair)
        old = START - timedelta(days=9)
        store.work_item(s, "comparison", answers[23], arrived=old,
                        judged=[(ann, None, old), (ben, None, old + timedelta(days=1))], **pair)  # fmt: skip
        agreed, adjudicated, split = (store.moderation_item(s, created=store.T0) for _ in range(3))
        store.label(s, ann, agreed, "toxic", when=store.at(1))
        store.label(s, ben, agreed, "toxic", when=store.at(3))
        store.label(s, ann, adjudicated, "toxic", when=store.at(1))
        store.label(s, ben, adjudicated, "not_toxic", when=store.at(2))
        store.adjudicate(s, people["lead"], adjudicated, "toxic", when=store.at(30))
        store.label(s, ann, split, "toxic", when=store.at(1))
        store.label(s, ben, split, "not_toxic", when=store.at(2))
    turnaround = {t.queue: t for t in _report(any_engine, sla_hours=24).turnaround}
    rating = turnaround["rating"]
    assert (rating.items, rating.p50_hours, rating.p95_hours, rating.within_sla) == (20, 20, 38, 12)
    assert rating.within_sla_share == 0.6
    comparison = turnaround["comparison"]
    assert (comparison.items, comparison.p50_hours, comparison.p95_hours, comparison.within_sla) == (2, 49, 50, 0)
    final = turnaround[FINAL_LABEL]
    assert (final.items, final.p50_hours, final.p95_hours, final.within_sla) == (2, 3, 30, 1)
    with session_scope(any_engine) as s:
        strict = kpi_report(s, start=START, end=END, now=NOW, sla_hours=48)
    assert {t.queue: t.within_sla for t in strict.turnaround} == {"rating": 20, "comparison": 0, FINAL_LABEL: 2}


def test_throughput_per_day_and_active_reviewers(any_engine):
    """ann rates twice on 2 March, ben compares once that day, ann labels on 10 March; an imported rating without a
    reviewer and a rating in February do not count."""
    with session_scope(any_engine, write=True) as s:
        people = store.users(s, "ann", "ben")
        v1, v2 = store.version(s, "bot-v1"), store.version(s, "bot-v2")
        a, b, c = store.answers(s, v1, 3)
        store.rate(s, people["ann"], a, (3, 3, 3), when=store.at(1))
        store.rate(s, people["ann"], b, (3, 3, 3), when=store.at(2))
        store.compare(s, people["ben"], a, store.second_answer(s, a, v2), "a", when=store.at(3))
        store.label(s, people["ann"], store.moderation_item(s), "toxic", when=store.at(days=8))
        store.label(s, None, store.moderation_item(s), "toxic", when=store.at(days=8))
        store.rate(s, people["ben"], c, (3, 3, 3), when=START - timedelta(hours=1))
    report = _report(any_engine)
    assert [(d.day, d.queue, d.judgments) for d in report.throughput] == [
        ("2026-03-02", "comparison", 1),
        ("2026-03-02", "rating", 2),
        ("2026-03-10", "moderation", 1),
    ]
    assert report.judgments == 4 and report.active_reviewers == 2
    assert [(w.week, w.reviewers) for w in report.reviewers_by_week] == [("2026-03-02", 2), ("2026-03-09", 1)]


def test_freshness_data_quality_and_iterations(any_engine):
    """Ratings last imported 5 h before now; conversations 50 h (a refused file 1 h before does not count as fresh,
    but its 3 bad rows of 10 count as refused); versions: two chatbots in March, one moderation in February."""
    with session_scope(any_engine, write=True) as s:
        store.import_run(s, "ratings", finished=NOW - timedelta(hours=5))
        store.import_run(s, "conversations", finished=NOW - timedelta(hours=50))
        store.import_run(s, "conversations", finished=NOW - timedelta(hours=1), status="refused", rows_refused=3)
        store.version(s, "bot-v1", created=store.at(days=1))
        store.version(s, "bot-v2", created=store.at(days=20))
        store.version(s, "mod-v1", "moderation", created=store.at(days=-10))
        snapshot = DatasetSnapshot(kind="preferences", content_hash="h", row_count=1, path="x")
        s.add(snapshot)
        s.flush()
        for status in ("done", "failed"):
            s.add(RewardModelRun(snapshot_id=snapshot.id, base_model="m", status=status, started_at=store.at(days=3)))
    report = _report(any_engine)
    fresh = {f.kind: f.hours_since for f in report.freshness}
    assert fresh["ratings"] == pytest.approx(5) and fresh["conversations"] == pytest.approx(50)
    assert fresh["jigsaw"] is None
    quality = {q.kind: q for q in report.data_quality}
    conversations = quality["conversations"]
    assert (conversations.files, conversations.refused_files, conversations.rows_read, conversations.rows_refused) == (
        2,
        1,
        20,
        3,
    )
    assert conversations.refused_share == 0.15 and quality["ratings"].refused_share == 0
    assert [(m.month, m.kind, m.count) for m in report.versions_by_month] == [("2026-03", "chatbot", 2)]
    assert [(m.month, m.kind, m.count) for m in report.reward_runs_by_month] == [
        ("2026-03", "done", 1),
        ("2026-03", "failed", 1),
    ]


def test_psi_week_over_week_against_a_hand_computation(any_engine):
    """Week of 2 March: 50 scores in the first bin, 50 in the last; 9 March: 30 and 70; 16 March: 10 scores (too
    few); 23 March: 50 and 50 again, but the week before is too thin to compare."""
    with session_scope(any_engine, write=True) as s:
        v = store.version(s, "mod-v1", "moderation")
        other = store.version(s, "mod-v2", "moderation")
        for week, (low, high) in enumerate(((50, 50), (30, 70), (4, 6), (50, 50))):
            for n, value in [(low, 0.05), (high, 1.0)]:  # 1.0 falls in the last bin
                for _ in range(n):
                    store.score(s, store.moderation_item(s), v, value, when=store.at(days=7 * week))
        store.score(s, store.moderation_item(s), other, 0.5, when=store.at(1))
    drift = [(d.version, d.week, d.scores, d.psi, d.band) for d in _report(any_engine).quality.drift]
    by_hand = (0.3 - 0.5) * math.log(0.3 / 0.5) + (0.7 - 0.5) * math.log(0.7 / 0.5)  # empty bins add 0
    assert by_hand == pytest.approx(0.16946, abs=1e-5)
    assert drift == [
        ("mod-v1", "2026-03-02", 100, None, ""),
        ("mod-v1", "2026-03-09", 100, pytest.approx(by_hand), "moderate"),
        ("mod-v1", "2026-03-16", 10, None, ""),
        ("mod-v1", "2026-03-23", 100, None, ""),
        ("mod-v2", "2026-03-02", 1, None, ""),
    ]


def test_psi_and_its_bands_by_hand():
    assert psi([50, 50], [50, 50]) == 0
    # an empty bin's share is floored at 0.0001 (the others are left as they are)
    floored = (0.0001 - 0.5) * math.log(0.0001 / 0.5) + (1.0 - 0.5) * math.log(1.0 / 0.5)
    assert psi([1, 1], [0, 10]) == pytest.approx(floored)
    assert psi([0, 0], [1, 1]) is None
    assert [band(x) for x in (None, 0.05, 0.1, 0.25, 0.26)] == ["", "stable", "moderate", "moderate", "major"]


def test_quality_per_version_win_rate_f1_and_reward_accuracy(any_engine):
    """v2 (newer) against v1: 6 wins (3 as a, 3 as b), 2 losses, a tie and a both-bad. Moderation: predictions
    against final labels. Mean ratings per version and month. One finished reward run with its metrics."""
    with session_scope(any_engine, write=True) as s:
        people = store.users(s, "ann", "ben")
        v1 = store.version(s, "bot-v1", created=store.at(days=-30))
        v2 = store.version(s, "bot-v2", created=store.at(days=-10))
        s.add(QueueConfig(name="comparison", k=2, versions=["bot-v1", "bot-v2"]))
        outcomes = ["v2a"] * 3 + ["v2b"] * 3 + ["v1a", "v1b", "tie", "both_bad"]
        for outcome, answer in zip(outcomes, store.answers(s, v1, len(outcomes)), strict=True):
            other = store.second_answer(s, answer, v2)
            if outcome == "v2a":
                store.compare(s, people["ann"], other, answer, "a", when=store.at(1))
            elif outcome == "v2b":
                store.compare(s, people["ann"], answer, other, "b", when=store.at(days=20))
            elif outcome in ("v1a", "v1b"):
                args = (answer, other, "a") if outcome == "v1a" else (other, answer, "b")
                store.compare(s, people["ben"], *args, when=store.at(1))
            else:
                store.compare(s, people["ben"], answer, other, outcome, when=store.at(1))
        for scores, version in (((4, 5, 3), v1), ((2, 3, 1), v1), ((5, 5, 5), v2)):
            store.rate(s, people["ann"], store.answers(s, version, 1)[0], scores, when=store.at(2))
        mod = store.version(s, "mod-v1", "moderation")
        predictions = [(0.9, "toxic"), (0.8, "toxic"), (0.7, "not_toxic"), (0.2, "toxic"), (0.1, "not_toxic")]
        for value, truth in predictions:
            item = store.moderation_item(s)
            store.score(s, item, mod, value)
            store.label(s, people["ann"], item, truth)
        snapshot = DatasetSnapshot(kind="preferences", content_hash="h", row_count=1, path="x")
        s.add(snapshot)
        s.flush()
        metrics = {"accuracy": 0.71, "accuracy_ci": [0.65, 0.77], "n_eval_pairs": 200}
        s.add(RewardModelRun(snapshot_id=snapshot.id, base_model="minilm", status="done", metrics=metrics,
                             finished_at=store.at(days=3)))  # fmt: skip
    quality = _report(any_engine).quality
    win = quality.win_rate
    low, high = proportion_confint(6, 8, method="wilson")
    assert (win.newest, win.previous, win.wins, win.losses, win.ties, win.both_bad) == ("bot-v2", "bot-v1", 6, 2, 1, 1)
    assert (win.rate, win.low, win.high) == (0.75, pytest.approx(low), pytest.approx(high))
    assert win.by_month == [("2026-03", 6, 2)]
    (f1,) = quality.moderation_f1
    truth = [t == "toxic" for _, t in predictions]
    predicted = [v >= 0.5 for v, _ in predictions]
    assert (f1.items, f1.true_positives, f1.false_positives, f1.false_negatives) == (5, 2, 1, 1)
    assert f1.f1 == pytest.approx(f1_score(truth, predicted))
    ratings = {(r.version, r.month): r for r in quality.ratings_by_version}
    assert (ratings[("bot-v1", "2026-03")].ratings, ratings[("bot-v1", "2026-03")].accuracy) == (2, 2.0)
    assert ratings[("bot-v2", "2026-03")].helpfulness == 5.0
    (run,) = quality.reward_accuracy
    assert (run.accuracy, run.accuracy_ci, run.n_eval_pairs, run.base_model) == (0.71, [0.65, 0.77], 200, "minilm")


def test_an_empty_store_gives_an_empty_report_not_an_error(any_engine):
    report = _report(any_engine)
    every_queue = [(queue, 0, None) for queue in sorted(DEFAULT_K)]  # each queue shows, even without items
    assert [(b.queue, b.open_items, b.age_p50_hours) for b in report.backlog] == every_queue
    assert report.turnaround == [] and report.throughput == [] and report.active_reviewers == 0
    assert all(f.last_import is None for f in report.freshness)
    q = report.quality
    assert (q.win_rate, q.moderation_f1, q.reward_accuracy, q.drift, q.ratings_by_version) == (None, [], [], [], [])


def test_the_range_is_checked_and_defaults_to_the_last_30_days():
    start, end = default_range(NOW)
    assert (start, end) == (datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
    with pytest.raises(ValueError, match="ends before it starts"):
        kpi_report(None, start=END, end=START)
    with pytest.raises(ValueError, match="positive number of hours"):
        kpi_report(None, start=START, end=END, sla_hours=0)

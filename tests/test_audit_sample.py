"""The monthly audit sample: stratified by queue and reviewer, reproducible from its seed, stored, re-reviewed with
audit events, and its pass rates."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from statsmodels.stats.proportion import proportion_confint

from core.oversight.samples import (
    SampleError,
    allocate,
    draw_sample,
    last_month,
    list_samples,
    month_range,
    pass_rates,
    review,
    sample_items,
)
from core.store.db import session_scope
from core.store.models import AuditEvent, AuditSample, AuditSampleItem
from tests import audit_store as store


def _month_of_judgments(engine) -> dict[str, int]:
    """March 2026: ann rates 60 answers, ben rates 30, ann compares 10 pairs, cai labels 20 items; plus judgments in
    February and April that a March sample must not touch."""
    with session_scope(engine, write=True) as s:
        people = store.users(s, "ann", "ben", "cai", "lead")
        v1, v2 = store.version(s, "bot-v1"), store.version(s, "bot-v2")
        answers = store.answers(s, v1, 100)
        for i, answer in enumerate(answers[:60]):
            store.rate(s, people["ann"], answer, (4, 4, 4), when=store.at(hours=i))
        for i, answer in enumerate(answers[60:90]):
            store.rate(s, people["ben"], answer, (3, 3, 3), when=store.at(hours=i))
        for i, answer in enumerate(answers[90:]):
            store.compare(s, people["ann"], answer, store.second_answer(s, answer, v2), "a", when=store.at(days=i))
        for i in range(20):
            store.label(s, people["cai"], store.moderation_item(s), "toxic", when=store.at(days=i))
        store.rate(s, people["ben"], answers[0], (1, 1, 1), when=store.at(days=-5))  # February
        store.rate(s, people["ann"], answers[1], (1, 1, 1), when=store.at(days=40))  # April
    return people


def test_the_sample_is_stratified_by_queue_and_reviewer_in_proportion(any_engine):
    people = _month_of_judgments(any_engine)
    with session_scope(any_engine, write=True) as s:
        summary = draw_sample(s, month="2026-03", size=12, seed=1, actor_id=people["lead"])
    with session_scope(any_engine) as s:
        drawn = s.execute(
            select(AuditSampleItem.queue, AuditSampleItem.reviewer_id, func.count()).group_by(
                AuditSampleItem.queue, AuditSampleItem.reviewer_id
            )
        ).all()
        times = s.execute(select(func.min(AuditSampleItem.judged_at), func.max(AuditSampleItem.judged_at))).one()
        sample = s.get(AuditSample, summary.id)
    # 120 judgments in March: 60 + 30 + 10 + 20; 12 drawn: 6, 3, 1 and 2
    assert (summary.population, summary.drawn, summary.month) == (120, 12, "2026-03")
    assert sorted(drawn) == sorted(
        [("rating", people["ann"], 6), ("rating", people["ben"], 3), ("comparison", people["ann"], 1),
         ("moderation", people["cai"], 2)]
    )  # fmt: skip
    start, end = month_range("2026-03")
    assert start <= times[0] and times[1] < end
    assert {(x["queue"], x["population"], x["drawn"]) for x in sample.strata} == {
        ("rating", 60, 6),
        ("rating", 30, 3),
        ("comparison", 10, 1),
        ("moderation", 20, 2),
    }


@pytest.mark.parametrize(
    ("sizes", "n", "expected"),
    [
        ({("r", 1): 60, ("r", 2): 30, ("c", 1): 10}, 10, {("r", 1): 6, ("r", 2): 3, ("c", 1): 1}),
        ({("r", 1): 98, ("r", 2): 1, ("c", 1): 1}, 3, {("r", 1): 1, ("r", 2): 1, ("c", 1): 1}),  # one each first
        ({("r", 1): 5, ("r", 2): 2}, 50, {("r", 1): 5, ("r", 2): 2}),  # more than there is: all
        ({("r", 1): 50, ("r", 2): 30, ("c", 1): 20}, 2, {("r", 1): 1, ("r", 2): 1, ("c", 1): 0}),  # fewer than strata
        ({("r", 1): 7, ("r", 2): 7, ("c", 1): 7}, 10, {("r", 1): 3, ("r", 2): 3, ("c", 1): 4}),
    ],
)
def test_allocation(sizes, n, expected):
    assert allocate(sizes, n) == expected
    assert sum(allocate(sizes, n).values()) == min(n, sum(sizes.values()))


def _drawn(engine, seed: int) -> list[tuple[str, int]]:
    with session_scope(engine, write=True) as s:
        summary = draw_sample(s, month="2026-03", size=15, seed=seed, actor_id=None)
    with session_scope(engine) as s:
        return [(i.queue, i.judgment_id) for i in sample_items(s, summary.id)]


def test_the_same_seed_draws_the_same_sample_on_the_same_data(engine, tmp_path, monkeypatch, sqlite_template):
    import shutil

    from core.store.db import get_engine

    _month_of_judgments(engine)
    first = _drawn(engine, seed=42)
    copy = tmp_path / "copy.db"
    shutil.copy(sqlite_template, copy)
    other = get_engine(f"sqlite:///{copy}")
    _month_of_judgments(other)  # the same judgments in a second store
    assert _drawn(other, seed=42) == first
    assert _drawn(engine, seed=43) != first
    assert len(first) == len(set(first)) == 15


def test_drawing_again_returns_the_stored_sample_and_records_one_event(engine):
    people = _month_of_judgments(engine)
    with session_scope(engine, write=True) as s:
        first = draw_sample(s, month="2026-03", size=5, seed=7, actor_id=people["lead"])
    with session_scope(engine, write=True) as s:
        again = draw_sample(s, month="2026-03", size=5, seed=7, actor_id=people["lead"])
    with session_scope(engine) as s:
        assert s.execute(select(func.count()).select_from(AuditSample)).scalar_one() == 1
        events = s.execute(select(AuditEvent).where(AuditEvent.action == "audit_sample.draw")).scalars().all()
        samples = list_samples(s)
    assert again.id == first.id and len(events) == 1
    assert events[0].after == {"month": "2026-03", "size": 5, "seed": 7, "drawn": 5, "population": 120}
    assert [(x.month, x.drawn, x.reviewed, x.created_by) for x in samples] == [("2026-03", 5, 0, "lead")]


@pytest.mark.parametrize(
    ("month", "size", "message"),
    [
        ("2026-13", 5, "write it as YYYY-MM"),
        ("March", 5, "write it as YYYY-MM"),
        ("2026-03", 0, "draw between 1 and"),
        ("2025-01", 5, "no judgments were made in 2025-01"),
    ],
)
def test_a_bad_draw_is_refused_and_writes_nothing(engine, month, size, message):
    _month_of_judgments(engine)
    with pytest.raises(SampleError, match=message), session_scope(engine, write=True) as s:
        draw_sample(s, month=month, size=size, seed=1, actor_id=None)
    with session_scope(engine) as s:
        assert s.execute(select(func.count()).select_from(AuditSample)).scalar_one() == 0
        assert s.execute(select(func.count()).select_from(AuditEvent)).scalar_one() == 0


def test_re_review_records_verdicts_with_audit_events_and_pass_rates(any_engine):
    people = _month_of_judgments(any_engine)
    with session_scope(any_engine, write=True) as s:
        sample = draw_sample(s, month="2026-03", size=12, seed=1, actor_id=people["lead"])
    with session_scope(any_engine) as s:
        items = sample_items(s, sample.id)
    ratings = [i for i in items if i.queue == "rating"]
    assert ratings[0].values.startswith("helpfulness") and ratings[0].texts[0][0] == "Question"
    with session_scope(any_engine, write=True) as s:
        for n, item in enumerate(items):
            verdict = "disagree" if item.reviewer == "ann" and n % 2 == 0 else "agree"
            review(s, item_id=item.id, auditor_id=people["lead"], verdict=verdict, reason="too generous")
    with session_scope(any_engine, write=True) as s:  # the lead changes one verdict: a second event keeps the first
        review(s, item_id=items[0].id, auditor_id=people["lead"], verdict="agree", reason="on reflection fine")
    with session_scope(any_engine) as s:
        rates = pass_rates(s, sample_id=sample.id)
        events = s.execute(
            select(AuditEvent).where(AuditEvent.entity_id == items[0].id, AuditEvent.action == "audit_sample.review")
        ).scalars()
        events = sorted(events, key=lambda e: e.id)
        after = sample_items(s, sample.id)
        to_do = sample_items(s, sample.id, to_review_only=True)
    first = "disagree" if items[0].reviewer == "ann" else "agree"
    assert [e.before["verdict"] for e in events] == [None, first]
    assert events[-1].after["verdict"] == "agree" and events[-1].after["judgment_id"] == items[0].judgment_id
    assert to_do == [] and all(i.auditor == "lead" for i in after)
    verdicts = {i.id: i.verdict for i in after}
    for rate in rates.by_reviewer + rates.by_queue:
        group = [i for i in after if rate.group in (i.reviewer, i.queue)]
        agreed = sum(verdicts[i.id] == "agree" for i in group)
        low, high = proportion_confint(agreed, len(group), method="wilson")
        assert (rate.reviewed, rate.agreed) == (len(group), agreed)
        assert rate.rate == agreed / len(group) and (rate.low, rate.high) == (pytest.approx(low), pytest.approx(high))
    assert {r.group for r in rates.by_queue} == {"rating", "comparison", "moderation"}
    assert {r.group for r in rates.by_reviewer} == {"ann", "ben", "cai"}


def test_a_verdict_needs_a_reason_to_disagree_and_nobody_audits_their_own_judgment(engine):
    people = _month_of_judgments(engine)
    with session_scope(engine, write=True) as s:
        sample = draw_sample(s, month="2026-03", size=12, seed=1, actor_id=None)
    with session_scope(engine) as s:
        anns = next(i for i in sample_items(s, sample.id) if i.reviewer == "ann")
    refusals = [
        (dict(verdict="disagree", reason=" "), "a reason is required"),
        (dict(verdict="maybe"), "choose agree or disagree"),
        (dict(verdict="agree", auditor_id=people["ann"]), "your own judgment"),
    ]
    for kwargs, message in refusals:
        with pytest.raises(SampleError, match=message), session_scope(engine, write=True) as s:
            review(s, item_id=anns.id, **({"auditor_id": people["lead"]} | kwargs))
    with session_scope(engine) as s:
        assert s.get(AuditSampleItem, anns.id).verdict is None
        assert s.execute(select(func.count()).where(AuditEvent.action == "audit_sample.review")).scalar_one() == 0
        assert pass_rates(s).by_queue == []


def test_last_month_is_the_month_an_audit_looks_back_on():
    assert last_month(store.at(days=10)) == "2026-02"
    assert last_month(store.at(days=-60)) == "2025-12"  # 1 January 2026

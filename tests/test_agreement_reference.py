"""The agreement report against a straightforward reference on randomized stores, on SQLite and PostgreSQL: every
figure worked out judgment by judgment in plain Python from the rows themselves, with the libraries on the raw data
(krippendorff on a reliability matrix, statsmodels' own aggregation for Fleiss, scikit-learn's Cohen's kappa on the
raw pairs of values). The stores have several queues, items judged by one to four reviewers (missing values), split
votes (ties among the others), gold items, judgments without a time or a reviewer, and a range that cuts some out."""

from __future__ import annotations

import math
import random
import warnings
from collections import Counter, defaultdict
from statistics import median

import krippendorff
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score
from sqlalchemy import select
from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

from core.reports.audit.agreement import (
    OUTLIER_AGREEMENT_GAP,
    OUTLIER_MIN_JUDGMENTS,
    OUTLIER_SPEED_SHARE,
    agreement_report,
)
from core.reports.judgments import PAIR_BASE, SOURCES
from core.stats import agreement as stats
from core.store.db import session_scope
from core.store.models import Assignment, Comparison, ModerationLabel, Rating, User, WorkItem
from tests import audit_store as store

CHOICES = ("a", "b", "tie", "both_bad")
LABELS = ("toxic", "not_toxic")


def _random_store(session, seed: int) -> None:
    """Eight reviewers (one fast and careless) over four days: 60 answers rated, 40 pairs compared (shown either
    way round), 50 moderation items labelled, by 1 to 4 reviewers each; some gold items; some judgments without a
    time; a few imported labels without a reviewer."""
    rng = random.Random(seed)
    people = store.users(session, *(f"rev{i}" for i in range(7)), "fast")
    ids = list(people.values())
    v1, v2 = store.version(session, "bot-v1"), store.version(session, "bot-v2")

    def when() -> tuple:
        return store.at(rng.uniform(0, 96)), None if rng.random() < 0.1 else rng.choice((3.0, 7.5, 30.2, 61.0, 90.9))

    def seconds_of(user: int, seconds):
        return 1.5 if user == people["fast"] and seconds is not None else seconds

    for answer in store.answers(session, v1, 60):
        truth, judged = rng.randint(1, 5), []
        gold = {"accuracy": truth} if rng.random() < 0.15 else None
        if gold and rng.random() < 0.5:
            gold["helpfulness"] = truth
        for user in rng.sample(ids, rng.choice((1, 2, 2, 3, 4))):
            noisy = rng.random() < 0.3 or user == people["fast"]
            scores = tuple(rng.randint(1, 5) if noisy else truth for _ in range(3))
            at, seconds = when()
            rating = store.rate(session, user, answer, scores, when=at, seconds=seconds_of(user, seconds))
            judged.append((user, rating, at))
        if gold:
            store.work_item(session, "rating", answer, arrived=store.T0, k=len(judged), judged=judged, gold_answer=gold)
    for answer in store.answers(session, v1, 40):
        other, better = store.second_answer(session, answer, v2), rng.choice(CHOICES)
        for user in rng.sample(ids, rng.choice((1, 2, 2, 3))):
            choice = rng.choice(CHOICES) if rng.random() < 0.35 else better
            at, seconds = when()
            if rng.random() < 0.5:
                store.compare(session, user, answer, other, choice, when=at, seconds=seconds_of(user, seconds))
            else:
                swapped = {"a": "b", "b": "a"}.get(choice, choice)
                store.compare(session, user, other, answer, swapped, when=at, seconds=seconds_of(user, seconds))
    for _ in range(50):
        item, truth, judged = store.moderation_item(session), rng.choice(LABELS), []
        for user in rng.sample(ids, rng.choice((1, 2, 3, 3, 4))):
            value = rng.choice(LABELS) if rng.random() < 0.3 or user == people["fast"] else truth
            at, seconds = when()
            made = store.label(session, user, item, value, when=at, seconds=seconds_of(user, seconds))
            judged.append((user, made, at))
        if rng.random() < 0.1:
            store.label(session, None, item, truth)  # imported: no reviewer, left out
        if rng.random() < 0.15:
            store.work_item(session, "moderation", item, arrived=store.T0, k=len(judged), judged=judged,
                            gold_answer={"label": truth})  # fmt: skip


def _rows(session, start, end) -> dict[str, list[tuple]]:
    """Per queue: (judgment id, unit, reviewer, {dimension: value}, seconds) of the reviewers' judgments in range."""

    def in_range(at) -> bool:
        at = at.replace(tzinfo=None)
        return (start is None or at >= start.replace(tzinfo=None)) and (end is None or at < end.replace(tzinfo=None))

    out: dict[str, list[tuple]] = {"rating": [], "comparison": [], "moderation": []}
    for r in session.execute(select(Rating)).scalars():
        if r.user_id is not None and in_range(r.created_at):
            values = {"helpfulness": r.helpfulness, "harmlessness": r.harmlessness, "accuracy": r.accuracy}
            out["rating"].append((r.id, r.response_id, r.user_id, values, r.seconds_spent))
    for c in session.execute(select(Comparison)).scalars():
        if c.user_id is not None and in_range(c.created_at):
            low, high = sorted((c.response_a_id, c.response_b_id))
            choice = c.choice if c.response_a_id < c.response_b_id else {"a": "b", "b": "a"}.get(c.choice, c.choice)
            out["comparison"].append((c.id, low * PAIR_BASE + high, c.user_id, {"choice": choice}, c.seconds_spent))
    for m in session.execute(select(ModerationLabel)).scalars():
        if m.user_id is not None and in_range(m.created_at):
            out["moderation"].append((m.id, m.item_id, m.user_id, {"label": m.label}, m.seconds_spent))
    return out


def _reference(session, start, end) -> dict:
    """Every figure of the report, worked out judgment by judgment."""
    names = dict(session.execute(select(User.id, User.username)).all())
    rows = _rows(session, start, end)
    dimensions, pairs, reviewers, overall = {}, {}, {}, {}
    for source in SOURCES:
        if not source.dimensions:
            continue
        queue, judged = source.queue, rows[source.queue]
        per_unit: dict[int, list[tuple]] = defaultdict(list)
        for _, unit, user, values, _ in judged:
            per_unit[unit].append((user, values))
        raters = sorted({user for _, _, user, _, _ in judged})
        units = sorted(per_unit)
        per_reviewer: dict[int, list[int]] = defaultdict(lambda: [0, 0])
        for d in source.dimensions:
            index = {v: i for i, v in enumerate(d.values)}
            data = np.full((len(raters), len(units)), np.nan)
            for u, unit in enumerate(units):
                for user, values in per_unit[unit]:
                    data[raters.index(user), u] = index[values[d.name]]
            pairable = [u for u in units if len(per_unit[u]) >= 2]
            alpha = None
            if len(pairable) >= 2 and len({index[v[d.name]] for u in pairable for _, v in per_unit[u]}) >= 2:
                alpha = krippendorff.alpha(
                    reliability_data=data, level_of_measurement=d.level, value_domain=list(range(len(d.values)))
                )
                alpha = None if math.isnan(alpha) else alpha
            sizes = Counter(len(per_unit[u]) for u in pairable)
            fleiss, n_fleiss = None, 0
            if sizes:
                common = max(sizes, key=lambda n: (sizes[n], n))
                chosen = [[index[v[d.name]] for _, v in per_unit[u]] for u in units if len(per_unit[u]) == common]
                n_fleiss = len(chosen)
                table, _ = aggregate_raters(np.array(chosen), n_cat=len(d.values))
                if n_fleiss >= 2 and np.count_nonzero(table.sum(axis=0)) >= 2:
                    fleiss = fleiss_kappa(table)
                    fleiss = None if math.isnan(fleiss) else fleiss
            dimensions[(queue, d.name)] = (alpha, fleiss, len(pairable), n_fleiss, len(judged))
            # pairs of reviewers: every two judgments of an item by two people, the lower id first
            by_pair: dict[tuple[int, int], list[tuple[int, int]]] = defaultdict(list)
            for unit in units:
                for ua, va in per_unit[unit]:
                    for ub, vb in per_unit[unit]:
                        if ua < ub:
                            by_pair[(ua, ub)].append((index[va[d.name]], index[vb[d.name]]))
            for (ua, ub), values in by_pair.items():
                kappa = None
                if len(values) >= 2:
                    first, second = zip(*values, strict=True)
                    weights = "quadratic" if d.level == "ordinal" else None
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")  # undefined kappas: reported as None
                        kappa = cohen_kappa_score(first, second, labels=list(range(len(d.values))), weights=weights)
                    kappa = None if math.isnan(kappa) else kappa
                pairs[(queue, d.name, names[ua], names[ub])] = (kappa, len(values))
            # consensus: each judgment against the value most of the item's other judgments gave
            for _, unit, user, values, _ in judged:
                given = [v[d.name] for _, v in per_unit[unit]]
                given.remove(values[d.name])
                others = Counter(given)
                if not others:
                    continue
                top = max(others.values())
                leaders = [v for v, n in others.items() if n == top]
                if len(leaders) == 1:
                    per_reviewer[user][0] += 1
                    per_reviewer[user][1] += leaders[0] == values[d.name]
        golds = {
            item_id: answer
            for item_id, answer in session.execute(
                select(WorkItem.id, WorkItem.gold_answer).where(WorkItem.queue == queue, WorkItem.is_gold)
            ).all()
        }
        gold_of = {
            judgment: golds[item]
            for item, judgment in session.execute(
                select(Assignment.work_item_id, Assignment.judgment_id).where(Assignment.status == "done")
            ).all()
            if item in golds
        }
        gold: dict[int, list[int]] = defaultdict(lambda: [0, 0])
        for judgment, _, user, values, _ in judged:
            answer = {k: v for k, v in (gold_of.get(judgment) or {}).items() if k in values}
            if answer:
                gold[user][0] += 1
                gold[user][1] += all(values[k] == v for k, v in answer.items())
        times: dict[int, list[int]] = defaultdict(list)
        for _, _, user, _, seconds in judged:
            if seconds is not None:
                times[user].append(math.floor(seconds))
        medians = {user: float(sorted(t)[math.ceil(len(t) / 2) - 1]) for user, t in times.items()}
        count = Counter(user for _, _, user, _, _ in judged)
        total = [sum(c for c, _ in per_reviewer.values()), sum(a for _, a in per_reviewer.values())]
        overall[queue] = total[1] / total[0] if total[0] else None
        fast = OUTLIER_SPEED_SHARE * median(medians.values()) if medians else None
        for user in set(count) | set(gold) | set(medians):
            compared, agreed = per_reviewer.get(user, (0, 0))
            share = agreed / compared if compared else None
            outlier = bool(
                fast is not None
                and overall[queue] is not None
                and compared >= OUTLIER_MIN_JUDGMENTS
                and user in medians
                and medians[user] < fast
                and share is not None
                and share <= overall[queue] - OUTLIER_AGREEMENT_GAP
            )
            judged_gold, correct = gold.get(user, (0, 0))
            reviewers[(queue, names[user])] = (
                count.get(user, 0), compared, agreed, share, judged_gold, correct,
                correct / judged_gold if judged_gold else None, medians.get(user), outlier,
            )  # fmt: skip
    return {"dimensions": dimensions, "pairs": pairs, "reviewers": reviewers, "overall": overall}


def _close(found, expected) -> bool:
    if expected is None or found is None:
        return found is None and expected is None
    return found == pytest.approx(expected, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("seed", [11, 12])
def test_the_report_matches_a_judgment_by_judgment_reference(any_engine, seed):
    with session_scope(any_engine, write=True) as s:
        _random_store(s, seed)
    ranges = [(None, None), (store.at(24), store.at(72))]
    for start, end in ranges:
        with session_scope(any_engine) as s:
            report = agreement_report(s, start=start, end=end)
            expected = _reference(s, start, end)
        found = {
            (d.queue, d.dimension): (d.krippendorff_alpha, d.fleiss_kappa, d.n_items, d.n_items_fleiss, d.n_judgments)
            for d in report.dimensions
        }
        assert set(found) == set(expected["dimensions"])
        for key, (alpha, fleiss, n_items, n_fleiss, n_judgments) in expected["dimensions"].items():
            got = found[key]
            assert (got[2], got[3], got[4]) == (n_items, n_fleiss, n_judgments), (key, start)
            assert _close(got[0], alpha), (key, start, got[0], alpha)
            assert _close(got[1], fleiss), (key, start, got[1], fleiss)
        pairs = {(p.queue, p.dimension, p.reviewer_a, p.reviewer_b): (p.cohen_kappa, p.n_items) for p in report.pairs}
        assert set(pairs) == set(expected["pairs"])
        for key, (kappa, n) in expected["pairs"].items():
            assert pairs[key][1] == n and _close(pairs[key][0], kappa), (key, start, pairs[key], kappa)
        rows = {
            (r.queue, r.reviewer): (r.judgments, r.compared, r.agreed, r.agreement, r.gold_judged, r.gold_correct,
                                    r.gold_accuracy, r.median_seconds, r.outlier)
            for r in report.reviewers
        }  # fmt: skip
        assert set(rows) == set(expected["reviewers"])
        for key, values in expected["reviewers"].items():
            assert all(_close(a, b) for a, b in zip(rows[key], values, strict=True)), (key, start, rows[key], values)
        assert set(report.queue_agreement) == set(expected["overall"])
        assert all(_close(report.queue_agreement[q], v) for q, v in expected["overall"].items())
    # the figures the reference checks are not all empty: the store exercises them
    assert any(r.gold_judged for r in report.reviewers) and any(r.median_seconds for r in report.reviewers)


def test_pairs_of_judgments_leave_out_a_reviewer_paired_with_themselves():
    items = np.array([0, 0, 0, 1, 1, 2, 3, 3, 3, 3])
    reviewers = np.array([5, 2, 5, 1, 1, 4, 3, 1, 2, 0])
    first, second = stats.judgment_pairs(items, reviewers)
    found = sorted(zip(reviewers[first].tolist(), reviewers[second].tolist(), items[first].tolist(), strict=True))
    expected = sorted(
        (min(reviewers[i], reviewers[j]), max(reviewers[i], reviewers[j]), items[i])
        for i in range(len(items))
        for j in range(i + 1, len(items))
        if items[i] == items[j] and reviewers[i] != reviewers[j]
    )
    assert found == [tuple(map(int, e)) for e in expected]
    assert stats.judgment_pairs(np.array([], dtype=np.int64), np.array([], dtype=np.int64))[0].size == 0


@pytest.mark.parametrize("n_values", [1, 2, 3, 5])
def test_consensus_follows_the_rule_on_small_count_patterns(n_values):
    rng = np.random.default_rng(n_values)
    table = rng.integers(0, 4, (400, n_values))
    items = np.repeat(np.arange(400), table.sum(axis=1))
    values = np.concatenate([np.repeat(np.arange(n_values), row) for row in table])
    values[::7] = -1  # no value: never compared
    compared, agrees = stats.consensus(table, items, values)
    for j, (item, own) in enumerate(zip(items, values, strict=True)):
        if own < 0:
            assert not compared[j] and not agrees[j]
            continue
        others = table[item].tolist()
        others[own] -= 1
        top = max(others)
        single = top > 0 and others.count(top) == 1
        assert compared[j] == single and agrees[j] == (single and others[own] == top)


def test_fleiss_rows_keep_the_most_common_number_of_judgments_the_larger_on_a_tie():
    table = np.array([[1, 1], [2, 0], [3, 0], [2, 1], [1, 0], [0, 4]])
    assert stats.fleiss_rows(table).tolist() == [[3, 0], [2, 1]]  # two items of 2 and two of 3: 3 wins
    assert stats.fleiss_rows(np.array([[1, 0], [0, 1]])).tolist() == []
    assert stats.fleiss_rows(np.zeros((0, 2), dtype=np.int64)).tolist() == []

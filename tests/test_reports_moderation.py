"""Two moderation classifiers against the human final labels, overall and per metadata slice, on SQLite and
PostgreSQL (the slices read JSON fields of the items)."""

from __future__ import annotations

from datetime import date

import pytest

from core.reports.ab import moderation as moderation_ab
from core.reports.ab.moderation import moderation_report
from core.reports.filters import Filters, ReportError
from core.store.db import session_scope
from tests.ab_store import build_ab_store

MODS = Filters("mod-1", "mod-2")


def report_of(engine, filters: Filters = MODS):
    with session_scope(engine) as session:
        return moderation_report(session, filters)


def test_confusion_counts_use_the_final_labels(any_engine):
    """m6 has disagreeing labels and no adjudication: no final label; m5's adjudication overrules its labels."""
    build_ab_store(any_engine)
    report = report_of(any_engine)
    assert (report.a.tp, report.a.fp, report.a.fn, report.a.tn) == (1, 2, 2, 1)
    assert (report.b.tp, report.b.fp, report.b.fn, report.b.tn) == (3, 1, 0, 2)
    assert report.b.metric("precision")[0] == pytest.approx(3 / 4)
    assert report.b.metric("recall")[0] == 1.0
    assert report.b.metric("f1")[0] == pytest.approx(6 / 7)
    assert report.a.metric("fpr")[0] == pytest.approx(2 / 3)
    value, low, high = report.a.metric("f1")
    assert low <= value <= high


def test_mcnemar_on_the_items_both_versions_scored(any_engine):
    build_ab_store(any_engine)
    m = report_of(any_engine).mcnemar
    assert (m.both_right, m.a_only, m.b_only, m.both_wrong) == (2, 0, 3, 1)
    assert m.exact and m.p_value == pytest.approx(0.25)  # exact: 2 * P(X <= 0), X ~ Bin(3, 1/2)


def test_slices_of_every_scalar_metadata_field(any_engine):
    build_ab_store(any_engine)
    report = report_of(any_engine)
    assert report.fields == ["id", "language"]  # "nested" holds an object: not a slice
    by_slice = {(s.field, s.value): s for s in report.slices}
    assert set(by_slice) == {("id", "x5"), ("id", "(none)"), ("language", "en"), ("language", "de"),
                             ("language", "(none)")}  # fmt: skip
    de = by_slice["language", "de"]
    assert (de.a.tp, de.a.fp, de.a.fn, de.a.tn) == (0, 1, 1, 1)
    assert (de.b.tp, de.b.fp, de.b.fn, de.b.tn) == (1, 1, 0, 1)
    assert (de.mcnemar.both_right, de.mcnemar.a_only, de.mcnemar.b_only, de.mcnemar.both_wrong) == (1, 0, 1, 1)
    assert by_slice["language", "(none)"].b.tp == 1


def test_a_field_with_too_many_values_is_not_sliced(engine, monkeypatch):
    build_ab_store(engine)
    monkeypatch.setattr(moderation_ab, "MAX_VALUES", 2)
    report = report_of(engine)
    assert (report.fields, report.skipped_fields) == (["id"], ["language"])


def test_the_verdict_names_the_better_classifier_only_when_shown(engine):
    build_ab_store(engine)
    verdict = report_of(engine).verdict
    assert verdict[0] == (
        "Mistakes on the 6 items both scored: no difference shown (mod-2 is right where mod-1 is wrong on 3 items, "
        "the reverse on 0; McNemar p = 0.25, adjusted p = 0.68)."
    )
    assert verdict[1].startswith("F1: mod-2 0.86 [") and "against mod-1 0.33 [" in verdict[1]
    assert "on the items both scored +0.52 [" in verdict[1] and "no difference shown" in verdict[1]
    assert verdict[-2] == "No slice (by id, language) where mod-2 makes more mistakes than mod-1 is shown."
    assert verdict[-1].startswith("Adjusted for 5 tests (Holm's method)")


def test_no_labelled_items_in_the_range(engine):
    build_ab_store(engine)
    report = report_of(engine, Filters("mod-1", "mod-2", since=date(2030, 1, 1)))
    assert report.a.n == report.b.n == report.mcnemar.n == 0 and report.slices == []
    assert report.verdict[0].startswith("No items with a final human label scored by mod-1 or mod-2 in this range")


def test_a_topic_is_refused_for_classifiers(engine):
    build_ab_store(engine)
    with session_scope(engine) as session, pytest.raises(ReportError, match="topics belong to chatbot prompts"):
        moderation_report(session, Filters("mod-1", "mod-2", topic="vat"))

"""Flagged answers with their model version and reviewer, and their triage (open / confirmed / dismissed), audited."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core.oversight.flags import FlagError, flag_counts, flagged_answers, flagged_versions, triage
from core.oversight.sources import answer_sources
from core.store.db import session_scope
from core.store.models import AuditEvent, FlagTriage
from tests import audit_store as store


def _flagged_store(engine) -> dict[str, int]:
    """Ratings: ann flags v1's answer 1 incorrect+unsafe, ben flags v2's answer 2 personal_data, cai flags nothing."""
    with session_scope(engine, write=True) as s:
        people = store.users(s, "ann", "ben", "cai", "lead")
        v1, v2 = store.version(s, "bot-v1"), store.version(s, "bot-v2")
        (a1,), (a2,) = store.answers(s, v1, 1), store.answers(s, v2, 1)
        ids = {
            "ann": store.rate(
                s, people["ann"], a1, (2, 1, 1), flags=("incorrect", "unsafe"), rationale="wrong", when=store.at(1)
            ),
            "ben": store.rate(
                s, people["ben"], a2, (3, 3, 3), flags=("personal_data",), rationale="phone", when=store.at(2)
            ),
            "cai": store.rate(s, people["cai"], a1, (5, 5, 5), when=store.at(3)),
        }
    return people | {f"rating_{k}": v for k, v in ids.items()}


def test_flagged_answers_show_flags_version_reviewer_and_status(any_engine):
    ids = _flagged_store(any_engine)
    with session_scope(any_engine) as s:
        page = flagged_answers(s)
        versions = flagged_versions(s)
        sources = answer_sources(s, [r.answer_id for r in page.rows])  # for leads only
    assert page.total == 2
    assert [(r.reviewer, sources[r.answer_id].version, r.flags, r.status) for r in page.rows] == [
        ("ben", "bot-v2", ["personal_data"], "open"),
        ("ann", "bot-v1", ["incorrect", "unsafe"], "open"),
    ]
    assert page.rows[1].rating_id == ids["rating_ann"] and page.rows[1].question.startswith("Question")
    assert versions == ["bot-v1", "bot-v2"]


def test_triage_is_audited_with_before_and_after_and_filters_follow_it(any_engine):
    ids = _flagged_store(any_engine)
    with session_scope(any_engine, write=True) as s:
        triage(s, rating_id=ids["rating_ann"], status="confirmed", note="rate is wrong", actor_id=ids["lead"])
    with session_scope(any_engine, write=True) as s:
        triage(s, rating_id=ids["rating_ann"], status="dismissed", note="checked again: fine", actor_id=ids["lead"])
    with session_scope(any_engine, write=True) as s:  # the same again changes nothing and adds no event
        triage(s, rating_id=ids["rating_ann"], status="dismissed", note="checked again: fine", actor_id=ids["lead"])
    with session_scope(any_engine) as s:
        events = s.execute(
            select(AuditEvent).where(AuditEvent.action == "flag.triage").order_by(AuditEvent.id)
        ).scalars()
        events = [(e.actor_id, e.entity, e.entity_id, e.before, e.after) for e in events]
        dismissed = flagged_answers(s, status="dismissed")
        still_open = flagged_answers(s, status="open")
        unsafe = flagged_answers(s, flag="unsafe")
        by_version = flagged_answers(s, version="bot-v2")
        counts = {c.flag: (c.open, c.confirmed, c.dismissed) for c in flag_counts(s)}
    lead, rating = ids["lead"], ids["rating_ann"]
    flags = ["incorrect", "unsafe"]
    assert events == [
        (lead, "rating", rating, {"status": "open", "note": ""},
         {"status": "confirmed", "note": "rate is wrong", "flags": flags}),
        (lead, "rating", rating, {"status": "confirmed", "note": "rate is wrong"},
         {"status": "dismissed", "note": "checked again: fine", "flags": flags}),
    ]  # fmt: skip
    assert [(r.rating_id, r.note, r.triaged_by) for r in dismissed.rows] == [(rating, "checked again: fine", "lead")]
    assert [r.reviewer for r in still_open.rows] == ["ben"]
    assert [r.reviewer for r in unsafe.rows] == ["ann"] and [r.reviewer for r in by_version.rows] == ["ben"]
    assert counts == {
        "incorrect": (0, 0, 1),
        "unsafe": (0, 0, 1),
        "non_compliant": (0, 0, 0),
        "hallucinated_source": (0, 0, 0),
        "personal_data": (1, 0, 0),
    }


@pytest.mark.parametrize(
    ("who", "status", "note", "message"),
    [
        ("rating_ann", "confirmed", "  ", "write a note"),
        ("rating_ann", "fixed", "x", "status 'fixed'"),
        ("rating_cai", "confirmed", "x", "is not flagged"),
    ],
)
def test_a_bad_triage_is_refused_and_writes_nothing(engine, who, status, note, message):
    ids = _flagged_store(engine)
    with pytest.raises(FlagError, match=message), session_scope(engine, write=True) as s:
        triage(s, rating_id=ids[who], status=status, note=note, actor_id=ids["lead"])
    with session_scope(engine) as s:
        assert s.execute(select(func.count()).select_from(FlagTriage)).scalar_one() == 0
        assert s.execute(select(func.count()).select_from(AuditEvent)).scalar_one() == 0


def test_paging_and_an_empty_store(engine):
    with session_scope(engine) as s:
        assert flagged_answers(s).total == 0 and flagged_answers(s).rows == []
        assert all((c.open, c.confirmed, c.dismissed) == (0, 0, 0) for c in flag_counts(s))
    _flagged_store(engine)
    with session_scope(engine) as s:
        second = flagged_answers(s, offset=1, limit=1)
    assert second.total == 2 and [r.reviewer for r in second.rows] == ["ann"]

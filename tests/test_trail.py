"""The audit trail: keyset pages, filters, the CSV export (formula-safe), an item's full history."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import func, select, text

from core import audit
from core.oversight import flags
from core.oversight.history import ItemRef, find_item, item_history, item_of
from core.oversight.trail import SYSTEM, Cursor, TrailFilter, page_query, trail_choices, trail_page, write_trail_csv
from core.reports.csv_safe import safe_cell
from core.review import service as review
from core.review import settings
from core.review.judgments import ComparisonIn, RatingIn
from core.store.db import session_scope
from core.store.models import AuditEvent, Response, User
from tests import audit_store as store
from tests.review_store import actor, build


def _events(engine, n: int = 7) -> dict[str, int]:
    """n events by ann (rating.create on ratings 1..n), two at the same instant, and one by the system."""
    with session_scope(engine, write=True) as s:
        people = store.users(s, "ann", "ben")
        for i in range(n):
            when = store.at(hours=i if i != 3 else 2)  # events 2 and 3 share a time: the id breaks the tie
            s.add(AuditEvent(at=when, actor_id=people["ann"], action="rating.create", entity="rating", entity_id=i + 1))
        s.add(
            AuditEvent(
                at=store.at(hours=1.5), actor_id=people["ben"], action="rating.update", entity="rating", entity_id=1
            )
        )
        s.add(
            AuditEvent(at=store.at(hours=10), actor_id=None, action="user.lock", entity="user", entity_id=people["ben"])
        )
    return people


def test_pages_walk_every_event_once_newest_first_ties_broken_by_id(any_engine):
    _events(any_engine)
    seen, cursor = [], None
    with session_scope(any_engine) as s:
        while True:
            page = trail_page(s, after=cursor, size=3)
            seen += page.events
            if page.next is None:
                break
            cursor = page.next
        everything = s.execute(select(AuditEvent.id).order_by(AuditEvent.at.desc(), AuditEvent.id.desc())).scalars()
        assert [e.id for e in seen] == list(everything)
    assert len(seen) == 9 and len({e.id for e in seen}) == 9
    assert seen[0].action == "user.lock" and seen[0].actor == SYSTEM
    ordered = [(e.at, e.id) for e in seen]
    assert ordered == sorted(ordered, reverse=True)


def test_filters_by_person_action_entity_and_time(any_engine):
    _events(any_engine)
    with session_scope(any_engine) as s:

        def ids(**kw) -> list[int]:
            return [e.entity_id for e in trail_page(s, TrailFilter(**kw), size=100).events]

        assert ids(actor="ben") == [1]
        assert ids(actor=SYSTEM) == [s.execute(select(User.id).where(User.username == "ben")).scalar_one()]
        assert ids(actor="nobody") == []
        assert ids(action="rating.create") == [7, 6, 5, 4, 3, 2, 1]
        assert ids(entity="rating", entity_id=1) == [1, 1]
        assert ids(action="rating.create", start=store.at(hours=2), end=store.at(hours=5)) == [5, 4, 3]
        assert ids(actor="ann", action="rating.update") == []
        choices = trail_choices(s)
    assert choices.actions == ["rating.create", "rating.update", "user.lock"]
    assert choices.entities == ["rating", "user"]
    assert choices.actors == [SYSTEM, "ann", "ben"]


def test_a_page_after_the_last_event_is_empty_and_a_cursor_never_skips_appended_events(engine):
    _events(engine, n=2)
    with session_scope(engine) as s:
        first = trail_page(s, size=2)
    with session_scope(engine, write=True) as s:  # a new event arrives while someone reads page 1
        audit.record(s, actor_id=None, action="queue.configure", entity="queue_config")
    with session_scope(engine) as s:
        rest = trail_page(s, after=first.next, size=10)
        oldest = trail_page(s, after=Cursor(store.at(days=-1), 0))
    assert [e.id for e in first.events + rest.events] == [4, 3, 2, 1] and rest.next is None
    assert oldest.events == []


def test_pages_read_an_index_in_order_without_sorting(engine):
    """At a million events a sort would read them all; each page query must walk (at, id) or (column, at, id)."""
    _events(engine)
    with session_scope(engine) as s:
        for filters in (TrailFilter(), TrailFilter(action="rating.create"), TrailFilter(actor="ann")):
            for after in (None, Cursor(store.at(hours=5), 100)):
                query = page_query(s, filters, after=after)
                compiled = query.compile(s.get_bind(), compile_kwargs={"literal_binds": True})
                plan = " ".join(str(r[-1]) for r in s.execute(text(f"EXPLAIN QUERY PLAN {compiled}")))
                assert "ix_audit_event" in plan and "TEMP B-TREE" not in plan, (filters, plan)


def test_csv_export_has_every_matching_event_and_escapes_formulas(engine):
    with session_scope(engine, write=True) as s:
        s.add(User(id=66, username="=HYPERLINK(1)", role="expert"))
        s.flush()
        audit.record(s, actor_id=66, action="rating.update", entity="rating", entity_id=5, before={"rationale": "=1+1"})
        audit.record(s, actor_id=None, action="user.lock", entity="user", entity_id=66)
    out = io.StringIO()
    with session_scope(engine) as s:
        written = write_trail_csv(s, out, TrailFilter(entity="rating"))
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert written == 1 and rows[0] == ["id", "at", "actor", "action", "entity", "entity_id", "before", "after"]
    assert rows[1][2] == "'=HYPERLINK(1)" and rows[1][3:6] == ["rating.update", "rating", "5"]
    assert rows[1][6] == '{"rationale": "=1+1"}'  # JSON starts with a brace: nothing to escape


@pytest.mark.parametrize(
    ("value", "cell"),
    [("=SUM(A1)", "'=SUM(A1)"), ("+1", "'+1"), ("-2", "'-2"), ("@cmd", "'@cmd"), ("\tx", "'\tx"), ("ok", "ok"),
     (-2, -2), (None, ""), ({"a": 1}, '{"a": 1}')],
)  # fmt: skip
def test_safe_cell_escapes_what_a_spreadsheet_would_run(value, cell):
    assert safe_cell(value) == cell


def test_an_answers_history_has_every_judgment_and_change_with_before_and_after(engine, tmp_path):
    users = build(engine, tmp_path, prompts=1, experts=2)
    expert0 = actor(engine, users["expert0"])
    view = review.next_item(actor=expert0, queue="rating")
    rating = review.rate(actor=expert0, assignment_id=view.assignment_id, rating=RatingIn(4, 5, 4))
    review.change_rating(actor=expert0, rating_id=rating, rating=RatingIn(4, 5, 1, ("incorrect",), "wrong rate"))
    for expert in ("expert0", "expert1"):
        who = actor(engine, users[expert])
        view = review.next_item(actor=who, queue="comparison")
        review.compare(actor=who, assignment_id=view.assignment_id, comparison=ComparisonIn("left", "clear"))
    with session_scope(engine, write=True) as s:
        flags.triage(s, rating_id=rating, status="confirmed", note="rate is 19 %", actor_id=users["admin"])
        answer = s.execute(select(Response.id).where(Response.external_id == "r0-1")).scalar_one()
        item = s.execute(text("SELECT id FROM work_item WHERE queue = 'rating' AND subject_id = :a"), {"a": answer})
        settings.mark_gold(s, work_item_id=item.scalar_one(), answer={"accuracy": 1}, actor_id=users["admin"])
    with session_scope(engine) as s:
        ref = find_item(s, "r0-1")
        history = item_history(s, ref)
        assert find_item(s, f"rating:{rating}") == ref
        pair = tuple(sorted(s.execute(select(Response.id).where(Response.external_id.in_(["r0-1", "r0-2"]))).scalars()))
        assert item_of(s, "comparison", 1) == ItemRef("pair", pair)
    assert history.title == f"Answer #{answer}"  # never the imported id, which names the model (r0-1: v1)
    assert [h for h, _ in history.texts] == ["Question", f"Answer #{answer}"]
    assert history.ref.answers == (answer,)
    assert [(j.queue, j.reviewer) for j in history.judgments] == [
        ("rating", "expert0"),
        ("comparison", "expert0"),
        ("comparison", "expert1"),
    ]
    assert "accuracy 1; flags: incorrect; rationale: wrong rate" in history.judgments[0].values
    assert history.judgments[0].changed_at is not None
    actions = [e.action for e in history.events]
    assert actions == [
        "rating.create",
        "rating.update",
        "comparison.create",
        "comparison.create",
        "flag.triage",
        "work_item.gold",
    ]
    update = history.events[1]
    assert (update.before["accuracy"], update.after["accuracy"]) == (4, 1)
    assert history.events[4].after["status"] == "confirmed"


def test_a_moderation_items_history_has_labels_adjudication_and_the_final_label(any_engine):
    with session_scope(any_engine, write=True) as s:
        people = store.users(s, "ann", "ben", "lead")
        item = store.moderation_item(s)
        store.label(s, people["ann"], item, "toxic")
        store.label(s, people["ben"], item, "not_toxic", when=store.at(hours=1))
        store.adjudicate(s, people["lead"], item, "toxic", when=store.at(hours=2))
        audit.record(s, actor_id=people["lead"], action="adjudication.create", entity="adjudication", entity_id=1)
        external = s.execute(text("SELECT external_id FROM moderation_item")).scalar_one()
    with session_scope(any_engine) as s:
        history = item_history(s, find_item(s, external))
    assert [(j.queue, j.reviewer, j.values.split(";")[0]) for j in history.judgments] == [
        ("moderation", "ann", "toxic"),
        ("moderation", "ben", "not_toxic"),
        ("adjudication", "lead", "final label toxic"),
    ]
    assert [e.action for e in history.events] == ["adjudication.create"]
    assert history.final_label == "toxic"


def test_unknown_references_find_nothing(engine):
    with session_scope(engine) as s:
        assert find_item(s, "") is None
        assert find_item(s, "no-such-id") is None
        assert find_item(s, "rating:999") is None
        assert item_of(s, "user", 1) is None


def test_reading_the_trail_writes_nothing(engine):
    _events(engine)
    with session_scope(engine) as s:
        before = s.execute(select(func.count(), func.max(AuditEvent.id))).one()
    with session_scope(engine) as s:
        trail_page(s)
        trail_choices(s)
        write_trail_csv(s, io.StringIO())
        assert not s.new and not s.dirty and not s.deleted
    with session_scope(engine) as s:
        assert s.execute(select(func.count(), func.max(AuditEvent.id))).one() == before

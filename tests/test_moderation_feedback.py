"""The labelling write path: label + lease closed + count + audit event in one transaction, idempotent, refused whole
when incomplete; an annotator's change of their label keeps the old one in the audit trail."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core.moderation.labels import LabelIn, change_label, submit_label
from core.review import queues
from core.review.judgments import AlreadyJudged, FeedbackError
from core.review.service import last_judgment
from core.store.db import session_scope
from core.store.models import Assignment, AuditEvent, ModerationLabel, WorkItem
from tests.moderation_store import add_people, import_rows, score_row
from tests.review_store import actor

TOXIC = LabelIn("toxic", ("harassment", "hate"), "  slur against a group  ")


@pytest.fixture
def store(any_engine, tmp_path):
    users = add_people(any_engine)
    import_rows(any_engine, tmp_path, "moderation", [score_row(f"i{n}", "clf", 0.45 + n / 100) for n in range(3)])
    return any_engine, users


def take(engine, user_id):
    with session_scope(engine, write=True) as s:
        return queues.next_item(s, queue="moderation", user_id=user_id)


def submit(engine, user_id, lease, values=TOXIC):
    with session_scope(engine, write=True) as s:
        return submit_label(s, user_id=user_id, assignment_id=lease.assignment_id, label=values)


def count(engine, model, *where) -> int:
    with session_scope(engine) as s:
        return s.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def test_a_label_lands_with_its_audit_event_and_counts_on_its_item(store):
    engine, users = store
    lease = take(engine, users["ann0"])
    label_id = submit(engine, users["ann0"], lease)
    with session_scope(engine) as s:
        stored = s.get(ModerationLabel, label_id)
        item = s.get(WorkItem, lease.work_item_id)
        assignment = s.get(Assignment, lease.assignment_id)
        event = s.execute(select(AuditEvent).where(AuditEvent.action == "moderation_label.create")).scalar_one()
    assert (stored.item_id, stored.label, stored.categories, stored.note, stored.source) == (
        lease.subject_id,
        "toxic",
        ["harassment", "hate"],
        "slur against a group",
        "app",
    )
    assert (item.done, item.open, assignment.status, assignment.judgment_id) == (1, True, "done", label_id)
    assert (event.entity_id, event.actor_id, event.after["label"]) == (label_id, users["ann0"], "toxic")


def test_a_repeated_submission_is_one_label(store):
    engine, users = store
    lease = take(engine, users["ann0"])
    assert submit(engine, users["ann0"], lease) == submit(engine, users["ann0"], lease)
    assert count(engine, ModerationLabel) == 1
    assert count(engine, AuditEvent, AuditEvent.action == "moderation_label.create") == 1


def test_a_different_label_of_an_item_already_labelled_in_another_tab_is_refused(store):
    engine, users = store
    lease = take(engine, users["ann0"])
    first = submit(engine, users["ann0"], lease)
    with pytest.raises(AlreadyJudged, match="You already labelled this item, in another tab or window"):
        submit(engine, users["ann0"], lease, LabelIn("not_toxic"))
    with session_scope(engine) as s:
        assert [(row.id, row.label) for row in s.execute(select(ModerationLabel)).scalars()] == [(first, "toxic")]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (LabelIn(None), "choose toxic or not toxic"),
        (LabelIn("toxic"), "at least one for a toxic item"),
        (LabelIn("not_toxic", ("spam",)), "categories are for toxic items"),
        (LabelIn("toxic", ("rudeness",)), "unknown category 'rudeness'"),
    ],
)
def test_an_incomplete_label_is_refused_and_writes_nothing(store, values, message):
    engine, users = store
    lease = take(engine, users["ann0"])
    with pytest.raises(FeedbackError, match=message):
        submit(engine, users["ann0"], lease, values)
    assert count(engine, ModerationLabel) == 0
    assert count(engine, Assignment, Assignment.status == "done") == 0


def test_changing_the_last_label_keeps_the_old_one_in_the_audit_trail(store):
    engine, users = store
    submit(engine, users["ann0"], take(engine, users["ann0"]))
    last = last_judgment(actor=actor(engine, users["ann0"]), queue="moderation", engine=engine)
    assert last.values == LabelIn("toxic", ("harassment", "hate"), "slur against a group")
    assert last.text == "text of i2"  # the most uncertain item came first
    with session_scope(engine, write=True) as s:
        change_label(s, user_id=users["ann0"], label_id=last.label_id, label=LabelIn("not_toxic", (), "quoted"))
    with session_scope(engine) as s:
        stored = s.get(ModerationLabel, last.label_id)
        event = s.execute(select(AuditEvent).where(AuditEvent.action == "moderation_label.update")).scalar_one()
    assert (stored.label, stored.categories, stored.note) == ("not_toxic", [], "quoted")
    assert stored.updated_at is not None
    assert event.before == {"label": "toxic", "categories": ["harassment", "hate"], "note": "slur against a group"}
    assert event.after == {"label": "not_toxic", "categories": [], "note": "quoted"}


def test_nobody_changes_another_annotators_label(store):
    engine, users = store
    label_id = submit(engine, users["ann0"], take(engine, users["ann0"]))
    with pytest.raises(FeedbackError, match="only labels you made"), session_scope(engine, write=True) as s:
        change_label(s, user_id=users["ann1"], label_id=label_id, label=LabelIn("not_toxic"))
    with session_scope(engine) as s:
        assert s.get(ModerationLabel, label_id).label == "toxic"


def test_a_change_that_settles_a_disagreement_takes_the_item_out_of_adjudication(store):
    engine, users = store
    first = submit(engine, users["ann0"], take(engine, users["ann0"]))
    submit(engine, users["ann1"], take(engine, users["ann1"]), LabelIn("not_toxic"))
    waiting = (WorkItem.queue == "adjudication", WorkItem.open)
    assert count(engine, WorkItem, *waiting) == 1
    with session_scope(engine, write=True) as s:
        change_label(s, user_id=users["ann0"], label_id=first, label=LabelIn("not_toxic"))
    assert count(engine, WorkItem, *waiting) == 0

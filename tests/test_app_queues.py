"""The admin's queue page: each queue's counts, and choosing which versions the comparison queue serves."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core.auth import UserPublic
from core.review import queues
from core.review import service as review
from core.review.judgments import RatingIn, submit_rating
from core.review.queues import QueueError
from core.store.db import session_scope
from core.store.models import AuditEvent, QueueConfig, WorkItem
from tests.app_helpers import app, fresh_streamlit_cache, page, texts  # noqa: F401
from tests.review_store import build


def queue_page(engine, tmp_path, **store):
    users = build(engine, tmp_path, **store)
    admin = UserPublic(users["admin"], "admin", "Admin", "admin", True)
    return app(admin).switch_page(page("queues")).run()


def open_items(engine, queue: str) -> int:
    with session_scope(engine) as s:
        return s.execute(select(func.count()).where(WorkItem.queue == queue, WorkItem.open)).scalar_one()


def test_the_page_shows_each_queue_with_its_counts(engine, tmp_path):
    at = queue_page(engine, tmp_path, prompts=3)
    assert not at.exception
    status = at.dataframe[0].value.set_index("Queue")
    assert status.loc["rating", "Waiting"] == 6 and status.loc["comparison", "Waiting"] == 3
    assert at.multiselect(key="comparison-versions").value == ["bot-v1", "bot-v2"]


def test_taking_a_version_out_of_the_comparison_queue_closes_its_pairs(engine, tmp_path):
    at = queue_page(engine, tmp_path, prompts=3)
    at.multiselect(key="comparison-versions").set_value(["bot-v1"])
    next(b for b in at.button if b.label == "Save" and b.key.startswith("FormSubmitter:queue-comparison")).click()
    at.run()
    assert not at.exception and not at.error
    assert texts(at.success) == ["comparison: saved (bot-v1; k = 2)."]
    assert open_items(engine, "comparison") == 0 and open_items(engine, "rating") == 6
    with session_scope(engine) as s:
        assert s.get(QueueConfig, "comparison").versions == ["bot-v1"]
        event = s.execute(select(AuditEvent).order_by(AuditEvent.id.desc())).scalars().first()
    assert (event.action, event.after["versions"]) == ("queue.configure", ["bot-v1"])


def test_the_admin_turns_on_per_dimension_questions_for_the_comparison_queue_only(engine, tmp_path):
    at = queue_page(engine, tmp_path, prompts=3)
    toggles = {t.key for t in at.toggle}
    assert toggles == {"comparison-per_dimension", "comparison-prefer_uncertain"}  # the other queues have none
    at.toggle(key="comparison-per_dimension").set_value(True)
    next(b for b in at.button if b.label == "Save" and b.key.startswith("FormSubmitter:queue-comparison")).click()
    at.run()
    assert not at.exception and not at.error
    assert texts(at.success) == ["comparison: saved (bot-v1, bot-v2; k = 2; asks per dimension)."]
    assert at.toggle(key="comparison-per_dimension").value
    with session_scope(engine) as s:
        assert s.get(QueueConfig, "comparison").per_dimension
        event = s.execute(select(AuditEvent).order_by(AuditEvent.id.desc())).scalars().first()
    assert (event.action, event.before["per_dimension"], event.after["per_dimension"]) == (
        "queue.configure",
        False,
        True,
    )


def test_the_admin_sets_the_comparison_queue_to_active_pairs(engine, tmp_path):
    at = queue_page(engine, tmp_path, prompts=3)
    strategy = at.selectbox(key="comparison-strategy")
    assert strategy.value == "random" and strategy.options == [
        "Every pair alike (random)",
        "Most informative first (active)",
    ]
    strategy.set_value("active")
    next(b for b in at.button if b.label == "Save" and b.key.startswith("FormSubmitter:queue-comparison")).click()
    at.run()
    assert not at.exception and not at.error
    assert texts(at.success) == ["comparison: saved (bot-v1, bot-v2; k = 2; active pairs)."]
    assert at.selectbox(key="comparison-strategy").value == "active"
    with session_scope(engine) as s:
        assert s.get(QueueConfig, "comparison").strategy == "active"
        event = s.execute(select(AuditEvent).order_by(AuditEvent.id.desc())).scalars().first()
    assert (event.before["strategy"], event.after["strategy"]) == ("random", "active")


def test_the_moderation_queue_offers_classifier_versions_and_adjudication_none(engine, tmp_path):
    from tests.moderation_store import import_rows, score_row

    import_rows(engine, tmp_path, "moderation", [score_row("m1", "modclf-a", 0.5), score_row("m1", "modclf-b", 0.4)])
    at = queue_page(engine, tmp_path, prompts=1)
    assert at.multiselect(key="moderation-versions").options == ["modclf-b", "modclf-a"]  # newest first
    assert at.multiselect(key="moderation-versions").value == []  # none chosen: the two newest feed it
    assert "adjudication-versions" not in [m.key for m in at.multiselect]
    at.multiselect(key="moderation-versions").set_value(["modclf-a"])
    next(b for b in at.button if b.label == "Save" and b.key.startswith("FormSubmitter:queue-moderation")).click()
    at.run()
    assert texts(at.success) == ["moderation: saved (modclf-a; k = 2)."]
    with session_scope(engine) as s:
        assert s.get(QueueConfig, "moderation").versions == ["modclf-a"]


def test_an_admin_makes_a_judged_answer_gold_with_its_rating_as_the_answer(engine, tmp_path):
    users = build(engine, tmp_path, prompts=2)
    with session_scope(engine, write=True) as s:
        lease = queues.next_item(s, queue="rating", user_id=users["expert0"])
        submit_rating(s, user_id=users["expert0"], assignment_id=lease.assignment_id, rating=RatingIn(4, 5, 2, (), "x"))
    admin = UserPublic(users["admin"], "admin", "Admin", "admin", True)
    at = app(admin).switch_page(page("queues")).run()
    item = at.selectbox(key="gold-item-rating")
    assert item.value.work_item_id == lease.work_item_id and item.value.suggested == {
        "helpfulness": 4, "harmlessness": 5, "accuracy": 2
    }  # fmt: skip
    assert len(item.options) == 4  # the judged answer first, then the three nobody judged
    accuracy = next(s for s in at.selectbox if s.label == "Accuracy")
    assert accuracy.value == 2
    accuracy.set_value(1)
    next(b for b in at.button if b.label == "Make it gold").click()
    at.run()
    assert not at.exception and texts(at.success) == [f"Item #{lease.work_item_id} is a gold item of rating."]
    with session_scope(engine) as s:
        gold = s.get(WorkItem, lease.work_item_id)
        event = s.execute(select(AuditEvent).where(AuditEvent.action == "work_item.gold")).scalar_one()
    assert (gold.is_gold, gold.gold_answer) == (True, {"helpfulness": 4, "harmlessness": 5, "accuracy": 1})
    assert event.actor_id == users["admin"]


def test_a_gold_answer_must_fit_its_queue(engine, tmp_path):
    users = build(engine, tmp_path, prompts=1)
    with session_scope(engine) as s:
        item = s.execute(select(WorkItem.id).where(WorkItem.queue == "comparison")).scalars().first()
    admin = UserPublic(users["admin"], "admin", "Admin", "admin", True)
    for answer, message in (({"accuracy": 4}, "'accuracy' is not a field of a comparison answer: use choice"),
                            ({"choice": "left"}, "choice must be one of a, b, tie, both_bad, not 'left'"),
                            ({}, "give at least one of choice")):  # fmt: skip
        with pytest.raises(QueueError, match=message):
            review.mark_gold(actor=admin, work_item_id=item, answer=answer, engine=engine)
    with session_scope(engine) as s:
        assert not s.get(WorkItem, item).is_gold

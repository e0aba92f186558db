"""Judgments held provisional by a qualification gate are absent from what the judgments feed: the A/B report and
the reward-model pairs (comparisons), and the moderation retraining set (final labels). Each is compared with and
without the held judgments, and again after a lead releases them."""

from __future__ import annotations

import random

from sqlalchemy import select

from core.moderation.final_labels import final_labels
from core.moderation.labels import LabelIn, submit_label
from core.reports.ab.chatbot import chatbot_report
from core.reports.filters import Filters
from core.review import queues
from core.review import service as review
from core.review.judgments import ComparisonIn, submit_comparison
from core.review.settings import mark_gold
from core.reward.pairs import usable_pairs
from core.store.db import session_scope
from core.store.models import ModerationItem, Qualification, WorkItem
from tests.moderation_store import add_people, configure, import_rows, item_ids, score_row
from tests.review_store import actor, build


class GoldFirst(random.Random):
    def random(self) -> float:
        return 0.0  # a gold item first wherever the queue mixes them in


class PlainFirst(random.Random):
    def random(self) -> float:
        return 1.0  # never a gold item mixed in


def status_of(engine, user_id: int) -> str:
    with session_scope(engine) as s:
        return s.execute(select(Qualification.status).where(Qualification.user_id == user_id)).scalar_one()


def compare(engine, user_id: int, prefer: str, rng=None) -> int:
    """Take the next pair and prefer answer `prefer` (a or b, as stored); returns the work item."""
    with session_scope(engine, write=True) as s:
        lease = queues.next_item(s, queue="comparison", user_id=user_id, rng=rng)
        a_on_left = lease.left_response_id == lease.subject_id
        side = "left" if (prefer == "a") == a_on_left else "right"
        choice = ComparisonIn(side, strength="clear")
        submit_comparison(s, user_id=user_id, assignment_id=lease.assignment_id, comparison=choice)
        return lease.work_item_id


def make_gold(engine, queue: str, answer: dict, admin_id: int, *, subject: int | None = None) -> None:
    with session_scope(engine, write=True) as s:
        query = select(WorkItem.id).where(WorkItem.queue == queue, WorkItem.done == 0, ~WorkItem.is_gold)
        if subject is not None:
            query = query.where(WorkItem.subject_id == subject)
        item_id = s.execute(query.order_by(WorkItem.id.desc()).limit(1)).scalar_one()
        mark_gold(s, work_item_id=item_id, answer=answer, actor_id=admin_id)


def outputs(engine) -> tuple:
    """The A/B report's comparison counts per topic and the reward-model pairs."""
    with session_scope(engine) as s:
        report = chatbot_report(s, Filters("bot-v1", "bot-v2"), leaderboard_rounds=20, rounds=50)
        wins = [(t.topic, t.win.wins_a, t.win.wins_b, t.ties, t.both_bad) for t in report.comparisons]
        pairs = sorted((p.prompt_id, p.chosen_id, p.rejected_id) for p in usable_pairs(s))
    return wins, pairs


def test_held_comparisons_are_absent_from_the_ab_report_and_the_reward_pairs(any_engine, tmp_path):
    users = build(any_engine, tmp_path, prompts=6, comparison_k=1)
    lead = actor(any_engine, users["admin"])
    make_gold(any_engine, "comparison", {"choice": "b"}, users["admin"])
    review.configure_gate(actor=lead, queue="comparison", qualify=1, pass_share=1.0, engine=any_engine)
    compare(any_engine, users["expert1"], "b")  # the gold item: qualified
    compare(any_engine, users["expert1"], "b")
    compare(any_engine, users["expert0"], "b")  # qualified too
    without = outputs(any_engine)
    compare(any_engine, users["expert0"], "a")
    compare(any_engine, users["expert0"], "a")
    with_them = outputs(any_engine)
    assert with_them != without
    make_gold(any_engine, "comparison", {"choice": "b"}, users["admin"])
    review.configure_queue(actor=lead, queue="comparison", gold_share=0.5, engine=any_engine)
    compare(any_engine, users["expert0"], "a", rng=GoldFirst())  # wrong: 1 of the last 2 gold items right
    assert status_of(any_engine, users["expert0"]) == "paused"
    assert outputs(any_engine) == without  # the 2 plain comparisons and the wrong gold one are held
    review.release_held(actor=lead, queue="comparison", user="expert0", engine=any_engine)
    released, pairs = outputs(any_engine)
    assert set(pairs) > set(with_them[1]) and len(pairs) == len(with_them[1]) + 1  # the gold item's pair too
    (overall,) = [row for row in released if row[0] == with_them[0][0][0]]
    assert overall[1] == with_them[0][0][1] + 1  # the gold item, judged a, counts as well now


def test_held_moderation_labels_are_absent_from_the_retraining_set(any_engine, tmp_path):
    users = add_people(any_engine, annotators=2)
    rows = [score_row(name, "clf", score) for name, score in (("x", 0.5), ("y", 0.49), ("g", 0.48), ("h", 0.47))]
    import_rows(any_engine, tmp_path, "moderation", rows)
    configure(any_engine, k=1)
    ids = item_ids(any_engine)
    make_gold(any_engine, "moderation", {"label": "toxic"}, users["admin"], subject=ids["g"])
    review.configure_gate(
        actor=actor(any_engine, users["admin"]), queue="moderation", qualify=1, pass_share=1.0, engine=any_engine
    )

    def label(user: str, value: str, rng=None) -> str:
        with session_scope(any_engine, write=True) as s:
            lease = queues.next_item(s, queue="moderation", user_id=users[user], rng=rng)
            categories = ("harassment",) if value == "toxic" else ()
            submit_label(s, user_id=users[user], assignment_id=lease.assignment_id, label=LabelIn(value, categories))
            return s.get(ModerationItem, lease.subject_id).external_id

    def training_set() -> dict[str, str]:
        with session_scope(any_engine) as s:
            final = final_labels()
            query = select(ModerationItem.external_id, final.c.label).join(final, final.c.item_id == ModerationItem.id)
            return dict(s.execute(query).all())

    assert label("ann0", "toxic", rng=GoldFirst()) == "g"  # qualified
    without = training_set()
    assert label("ann0", "not_toxic") == "x"
    with_it = training_set()
    assert with_it == without | {"x": "not_toxic"}
    make_gold(any_engine, "moderation", {"label": "toxic"}, users["admin"], subject=ids["h"])
    configure(any_engine, gold_share=0.5)
    assert label("ann0", "not_toxic", rng=GoldFirst()) == "h"  # wrong: paused
    assert status_of(any_engine, users["ann0"]) == "paused"
    assert training_set() == without
    assert label("ann1", "toxic", rng=GoldFirst()) == "g"  # ann1 qualifies; x went back to the queue
    assert label("ann1", "toxic", rng=PlainFirst()) == "x"
    review.discard_held(actor=actor(any_engine, users["admin"]), queue="moderation", user="ann0", engine=any_engine)
    assert training_set() == without | {"x": "toxic"}  # ann1's label alone: ann0's stays out

"""The borderline queue: the band around each version's threshold, disagreement between versions, most uncertain
first, overlap 2, skips and gold items; and the adjudication queue that disagreeing labels feed."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import select

from core.moderation import ModerationError
from core.moderation.borderline import feeding_versions
from core.moderation.classifier import set_threshold
from core.moderation.final_labels import final_labels
from core.moderation.labels import AdjudicationIn, LabelIn, submit_adjudication, submit_label
from core.review import queues, settings
from core.review import service as review
from core.review.judgments import AlreadyJudged, FeedbackError
from core.review.sync import sync_queue
from core.store.db import session_scope
from core.store.models import Adjudication, AuditEvent, ModelVersion, User, WorkItem
from tests.moderation_store import add_people, configure, import_rows, item_ids, label_row, score_row
from tests.review_store import actor

# item: (clf-v1 score, clf-v2 score); clf-v2 is the newer version
SCORES = {
    "a": (0.50, 0.50),  # on the threshold: most uncertain
    "b": (0.60, 0.60),  # 0.10 from it
    "c": (0.36, 0.36),  # 0.14 from it, on the other side
    "d": (0.30, 0.80),  # outside the band, but the two versions disagree
    "e": (0.95, 0.90),  # clearly toxic for both
    "f": (0.20, 0.10),  # clearly fine for both
    "g": (0.65, 0.65),  # exactly on the band's edge: inside
}
TOXIC = LabelIn("toxic", ("harassment",), "insult")
FINE = LabelIn("not_toxic")


@pytest.fixture
def store(any_engine, tmp_path):
    users = add_people(any_engine)
    for n, model in enumerate(("clf-v1", "clf-v2")):
        rows = [score_row(item, model, scores[n], at=f"2026-01-01T00:00:0{i}Z") for i, (item, scores) in
                enumerate(SCORES.items())]  # fmt: skip
        import_rows(any_engine, tmp_path, "moderation", rows)
    return any_engine, users


def take(engine, user_id, queue="moderation", rng=None):
    with session_scope(engine, write=True) as s:
        return queues.next_item(s, queue=queue, user_id=user_id, rng=rng)


def served(engine, user_id, queue="moderation") -> list[str]:
    """Everything the queue serves this user, in order, taking and skipping each item."""
    names = {v: k for k, v in item_ids(engine).items()}
    seen = []
    while (lease := take(engine, user_id, queue)) is not None:
        seen.append(names[lease.subject_id])
        with session_scope(engine, write=True) as s:
            queues.skip(s, queue=queue, assignment_id=lease.assignment_id, user_id=user_id)
    return seen


def label(engine, user_id, lease, values=TOXIC):
    with session_scope(engine, write=True) as s:
        return submit_label(s, user_id=user_id, assignment_id=lease.assignment_id, label=values)


def test_band_and_disagreement_decide_and_the_most_uncertain_come_first(store):
    engine, users = store
    assert served(engine, users["ann0"]) == ["a", "b", "c", "g", "d"]


def test_the_queue_follows_the_newest_two_versions_by_default(store, tmp_path):
    engine, users = store
    import_rows(engine, tmp_path, "moderation", [score_row(i, "clf-v3", 0.02) for i in SCORES])
    with session_scope(engine) as s:
        assert [v.name for v in feeding_versions(s, queues.get_config(s, "moderation"))] == ["clf-v3", "clf-v2"]
    # clf-v3 is sure of everything; only where clf-v2 said toxic (0.5 and above) do the two disagree
    assert sorted(served(engine, users["ann0"])) == ["a", "b", "d", "e", "g"]


def test_items_the_newest_version_has_not_scored_are_judged_by_the_one_before(store, tmp_path):
    engine, users = store
    import_rows(engine, tmp_path, "moderation", [score_row("a", "clf-v3", 0.99)])  # clf-v3 scored one item only
    # clf-v3 and clf-v2 feed the queue now: a is sure for both; the others keep clf-v2's band, and clf-v1 no
    # longer counts, so d (0.80 for clf-v2) is not borderline any more
    assert served(engine, users["ann0"]) == ["b", "c", "g"]


def test_a_pinned_version_and_its_own_threshold_and_band(store):
    engine, users = store
    configure(engine, versions=["clf-v1"])
    with session_scope(engine, write=True) as s:
        set_threshold(s, version="clf-v1", threshold=0.3, band=0.1, actor_id=users["admin"])
        event = s.execute(select(AuditEvent).where(AuditEvent.action == "model_version.threshold")).scalar_one()
    assert (event.before, event.after) == ({"threshold": 0.5, "band": 0.15}, {"threshold": 0.3, "band": 0.1})
    # clf-v1's scores within 0.2..0.4, nearest to 0.3 first; clf-v2 no longer feeds the queue
    assert served(engine, users["ann1"]) == ["d", "c", "f"]


@pytest.mark.parametrize(
    ("version", "settings", "message"),
    [
        ("nope", {"threshold": 0.4}, "no moderation classifier version 'nope'"),
        ("clf-v2", {"threshold": 1.0}, "between 0 and 1"),
        ("clf-v2", {"band": 0.0}, "above 0 and at most 0.5"),
    ],
)
def test_bad_thresholds_are_refused_and_change_nothing(store, version, settings, message):
    engine, _ = store
    with pytest.raises(ModerationError, match=message), session_scope(engine, write=True) as s:
        set_threshold(s, version=version, actor_id=None, **settings)
    with session_scope(engine) as s:
        assert s.execute(select(ModelVersion.meta).where(ModelVersion.name == "clf-v2")).scalar_one() == {}


def test_two_annotators_label_each_item_and_a_third_waits(store):
    engine, users = store
    first, second = take(engine, users["ann0"]), take(engine, users["ann1"])
    assert first.subject_id == second.subject_id  # k = 2: both places of the most uncertain item
    third = take(engine, users["ann2"])
    assert third.subject_id != first.subject_id
    label(engine, users["ann0"], first)
    label(engine, users["ann1"], second)
    with session_scope(engine) as s:
        item = s.execute(select(WorkItem).where(WorkItem.id == first.work_item_id)).scalar_one()
    assert (item.done, item.open) == (2, False)


def test_disagreeing_labels_go_to_the_expert_whose_decision_is_final(store):
    engine, users = store
    a = item_ids(engine)["a"]
    label(engine, users["ann0"], take(engine, users["ann0"]), TOXIC)
    assert take(engine, users["lead"], "adjudication") is None  # one label: nothing to adjudicate
    label(engine, users["ann1"], take(engine, users["ann1"]), FINE)
    lease = take(engine, users["lead"], "adjudication")
    assert lease.subject_id == a
    with session_scope(engine) as s:
        final = final_labels()
        assert s.execute(select(final.c.label).where(final.c.item_id == a)).first() is None
    decision = AdjudicationIn("toxic", ("harassment",), "A personal insult, whatever the tone.")
    with session_scope(engine, write=True) as s:
        submit_adjudication(s, user_id=users["lead"], assignment_id=lease.assignment_id, adjudication=decision)
    with session_scope(engine) as s:
        stored = s.execute(select(Adjudication)).scalar_one()
        final = final_labels()
        row = s.execute(select(final.c.label, final.c.basis).where(final.c.item_id == a)).one()
        event = s.execute(select(AuditEvent).where(AuditEvent.action == "adjudication.create")).scalar_one()
    assert (stored.final_label, stored.categories, stored.reason) == ("toxic", ["harassment"], decision.reason)
    assert tuple(row) == ("toxic", "adjudication")
    assert event.after["item_id"] == a and event.actor_id == users["lead"]
    assert take(engine, users["lead"], "adjudication") is None


def test_an_adjudication_needs_a_reason_and_a_label(store):
    engine, users = store
    label(engine, users["ann0"], take(engine, users["ann0"]), TOXIC)
    label(engine, users["ann1"], take(engine, users["ann1"]), FINE)
    lease = take(engine, users["lead"], "adjudication")
    for decision, message in ((AdjudicationIn("toxic", ("hate",), "  "), "give the reason"),
                              (AdjudicationIn(None, (), "unsure"), "choose toxic or not toxic")):  # fmt: skip
        with pytest.raises(FeedbackError, match=message), session_scope(engine, write=True) as s:
            submit_adjudication(s, user_id=users["lead"], assignment_id=lease.assignment_id, adjudication=decision)
    with session_scope(engine) as s:
        assert s.execute(select(Adjudication)).first() is None


def test_a_second_different_decision_on_an_adjudicated_item_is_refused(store):
    engine, users = store
    label(engine, users["ann0"], take(engine, users["ann0"]), TOXIC)
    label(engine, users["ann1"], take(engine, users["ann1"]), FINE)
    lease = take(engine, users["lead"], "adjudication")

    def decide(decision):
        with session_scope(engine, write=True) as s:
            return submit_adjudication(
                s, user_id=users["lead"], assignment_id=lease.assignment_id, adjudication=decision
            )

    first = decide(AdjudicationIn("toxic", ("harassment",), "An insult."))
    assert decide(AdjudicationIn("toxic", ("harassment",), "An insult.")) == first
    with pytest.raises(AlreadyJudged, match=r"You already decided this item.*Decisions are final"):
        decide(AdjudicationIn("not_toxic", (), "Banter."))
    with session_scope(engine) as s:
        assert s.execute(select(Adjudication.final_label)).scalars().all() == ["toxic"]


def test_imported_disagreements_fill_the_adjudication_queue(store, tmp_path):
    engine, users = store
    import_rows(engine, tmp_path, "labels", [label_row("f", "ann0", "toxic"), label_row("f", "ann1", "not_toxic")])
    assert served(engine, users["lead"], "adjudication") == ["f"]


def test_a_skipped_item_goes_to_others_and_never_back(store):
    engine, users = store
    lease = take(engine, users["ann0"])
    with session_scope(engine, write=True) as s:
        queues.skip(s, queue="moderation", assignment_id=lease.assignment_id, user_id=users["ann0"])
    assert take(engine, users["ann1"]).subject_id == lease.subject_id
    assert take(engine, users["ann0"]).subject_id != lease.subject_id


def test_gold_items_are_mixed_in(store):
    engine, users = store
    configure(engine, gold_share=0.5)
    with session_scope(engine) as s:
        last = s.execute(select(WorkItem.id).where(WorkItem.queue == "moderation").order_by(WorkItem.priority)).first()
    with session_scope(engine, write=True) as s:
        settings.mark_gold(s, work_item_id=last[0], answer={"label": "toxic"}, actor_id=users["admin"])
    rng = random.Random(0)
    first = [take(engine, users[f"ann{n}"], rng=rng).work_item_id for n in range(3)]
    assert last[0] in first


def test_adjudicated_items_leave_the_borderline_queue(store):
    engine, users = store
    label(engine, users["ann0"], take(engine, users["ann0"]), TOXIC)
    label(engine, users["ann1"], take(engine, users["ann1"]), FINE)
    lease = take(engine, users["lead"], "adjudication")
    with session_scope(engine, write=True) as s:
        submit_adjudication(
            s,
            user_id=users["lead"],
            assignment_id=lease.assignment_id,
            adjudication=AdjudicationIn("not_toxic", (), "ok"),
        )
        sync_queue(s, "moderation")
    assert "a" not in served(engine, users["ann2"])


def test_the_adjudication_queue_takes_no_versions(store):
    engine, _ = store
    with pytest.raises(queues.QueueError, match="not model versions"):
        configure(engine, queue="adjudication", versions=["clf-v2"])


def test_nobody_adjudicates_a_disagreement_they_are_part_of(store, tmp_path):
    engine, users = store
    import_rows(engine, tmp_path, "labels", [label_row("f", "lead", "toxic"), label_row("f", "ann1", "not_toxic")])
    assert served(engine, users["lead"], "adjudication") == []
    with session_scope(engine, write=True) as s:
        expert = User(username="other-expert", role="expert", display_name="Other Expert")
        s.add(expert)
        s.flush()
        other = expert.id
    assert served(engine, other, "adjudication") == ["f"]


def test_the_adjudicate_page_counts_no_disagreement_the_expert_is_part_of(store, tmp_path):
    engine, users = store
    import_rows(engine, tmp_path, "labels", [label_row("f", "lead", "toxic"), label_row("f", "ann1", "not_toxic")])
    assert review.progress_in(actor=actor(engine, users["lead"]), queue="adjudication").left == 0
    assert review.progress_in(actor=actor(engine, users["admin"]), queue="adjudication").left == 1


def test_the_queue_holds_what_the_rule_says_for_three_versions_with_their_own_thresholds(any_engine, tmp_path):
    """An oracle for the borderline rule (the module docstring of core.moderation.borderline), written in Python, on
    items scored by random subsets of three configured versions with different thresholds and bands."""
    rng = random.Random(7)
    settings = {"clf-v1": (0.3, 0.1), "clf-v2": (0.5, 0.15), "clf-v3": (0.7, 0.05)}  # registered in this order
    scores = {f"i{n}": {m: rng.randint(0, 100) / 100 for m in settings if rng.random() < 0.6} for n in range(80)}
    for model in settings:  # clf-v3 is registered last: the newest
        rows = [score_row(item, model, by[model]) for item, by in scores.items() if model in by]
        import_rows(any_engine, tmp_path, "moderation", rows)
    configure(any_engine, versions=list(settings))
    with session_scope(any_engine, write=True) as s:
        for model, (threshold, band) in settings.items():
            set_threshold(s, version=model, threshold=threshold, band=band, actor_id=None)

    expected = {}
    for item, by in scores.items():
        if not by:
            continue
        judge = max(by, key=list(settings).index)
        threshold, band = settings[judge]
        distance = abs(by[judge] - threshold)
        labels = {score >= 0.5 for score in by.values()}
        if distance <= band + 1e-9 or len(labels) > 1:
            expected[item] = round(10_000 - distance * 10_000)
    ids = item_ids(any_engine)
    with session_scope(any_engine) as s:
        found = s.execute(
            select(WorkItem.subject_id, WorkItem.priority).where(WorkItem.queue == "moderation", WorkItem.open)
        ).all()
    assert len(expected) > 20 and len(expected) < len([by for by in scores.values() if by])  # both kinds occur
    assert dict(found) == {ids[item]: priority for item, priority in expected.items()}

"""The qualification gate: a reviewer new to a gated queue judges its gold items first (held provisional, each
scored at once), passes or fails (a lead allows a retry), and a qualified reviewer whose gold share drops is paused
with their judgments since the last gold item they passed held until a lead releases or discards them."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from sqlalchemy import func, select

from core.accounts.users import create_user
from core.auth import Forbidden
from core.cli.main import main
from core.review import queues
from core.review import service as review
from core.review.judgments import FeedbackError, RatingIn, submit_rating
from core.review.qualification import QualificationError
from core.review.queues import QueueError
from core.review.settings import mark_gold
from core.store.db import session_scope
from core.store.models import AuditEvent, ProvisionalJudgment, Qualification, Rating, WorkItem
from tests.review_store import PASSWORD, actor, build, table_counts

RIGHT = RatingIn(helpfulness=4, harmlessness=5, accuracy=4)  # the gold answer is accuracy 4
WRONG = RatingIn(helpfulness=4, harmlessness=5, accuracy=5)


def gated(engine, tmp_path, *, gold: int = 3, qualify: int = 3, pass_share: float = 0.6) -> dict[str, int]:
    """12 rating items (6 prompts, two answers), the first `gold` of them gold with accuracy 4, 3 experts, an admin
    and a lead, and the rating queue gated by `qualify` gold items at `pass_share`."""
    users = build(engine, tmp_path, prompts=6)
    with session_scope(engine, write=True) as s:
        users["lea"] = create_user(s, username="lea", role="lead", password=PASSWORD).id
        items = s.execute(select(WorkItem.id).where(WorkItem.queue == "rating").order_by(WorkItem.id)).scalars()
        for item_id in list(items)[:gold]:
            mark_gold(s, work_item_id=item_id, answer={"accuracy": 4}, actor_id=users["admin"])
    review.configure_gate(
        actor=actor(engine, users["lea"]), queue="rating", qualify=qualify, pass_share=pass_share, engine=engine
    )
    return users


@pytest.fixture
def team(any_engine, tmp_path):
    return gated(any_engine, tmp_path)


def judge(engine, user_id: int, rating: RatingIn, rng: random.Random | None = None):
    """The reviewer takes their next item and rates it; returns the lease (None when nothing is served)."""
    with session_scope(engine, write=True) as s:
        lease = queues.next_item(s, queue="rating", user_id=user_id, rng=rng)
        if lease is not None:
            submit_rating(s, user_id=user_id, assignment_id=lease.assignment_id, rating=rating)
    return lease


def is_gold(engine, item_id: int) -> bool:
    with session_scope(engine) as s:
        return s.get(WorkItem, item_id).is_gold


def ratings_by(engine, user_id: int) -> int:
    with session_scope(engine) as s:
        return s.execute(select(func.count()).where(Rating.user_id == user_id)).scalar_one()


def held(engine, user_id: int, status: str = "held") -> int:
    with session_scope(engine) as s:
        query = select(func.count()).where(ProvisionalJudgment.user_id == user_id, ProvisionalJudgment.status == status)
        return s.execute(query).scalar_one()


def standing(engine, user_id: int) -> str:
    with session_scope(engine) as s:
        return s.execute(select(Qualification.status).where(Qualification.user_id == user_id)).scalar_one()


def actions(engine) -> list[str]:
    with session_scope(engine) as s:
        query = select(AuditEvent.action).where(AuditEvent.entity == "qualification").order_by(AuditEvent.id)
        return list(s.execute(query).scalars())


def test_a_new_reviewer_qualifies_on_gold_items_with_feedback_after_each(any_engine, team):
    me = actor(any_engine, team["expert0"])
    first = judge(any_engine, team["expert0"], RIGHT)
    assert is_gold(any_engine, first.work_item_id)
    # held, not counted: no rating in the table, one provisional judgment, the gold item's count unchanged
    assert ratings_by(any_engine, team["expert0"]) == 0 and held(any_engine, team["expert0"]) == 1
    state, feedback = review.my_qualification(actor=me, queue="rating", engine=any_engine)
    assert (state.status, state.judged, state.passed, state.qualify) == ("qualifying", 1, 1, 3)
    assert feedback.passed and feedback.answer == {"accuracy": 4} and feedback.given == {"accuracy": 4}
    assert "accuracy 4" in feedback.guideline
    second = judge(any_engine, team["expert0"], WRONG)
    assert is_gold(any_engine, second.work_item_id) and second.work_item_id != first.work_item_id
    _, feedback = review.my_qualification(actor=me, queue="rating", engine=any_engine)
    assert not feedback.passed and feedback.given == {"accuracy": 5}
    judge(any_engine, team["expert0"], RIGHT)  # 2 of 3 right: 0.67 >= 0.6
    assert standing(any_engine, team["expert0"]) == "qualified"
    # the passing attempt's judgments count now
    assert ratings_by(any_engine, team["expert0"]) == 3 and held(any_engine, team["expert0"], "released") == 3
    lease = judge(any_engine, team["expert0"], RIGHT)
    assert not is_gold(any_engine, lease.work_item_id)
    assert ratings_by(any_engine, team["expert0"]) == 4
    assert actions(any_engine) == ["qualification.start", "qualification.pass"]


def test_a_held_judgment_submitted_twice_is_kept_once(engine, tmp_path):
    users = gated(engine, tmp_path)
    lease = judge(engine, users["expert0"], RIGHT)
    with session_scope(engine, write=True) as s, pytest.raises(FeedbackError, match="kept as provisional"):
        submit_rating(s, user_id=users["expert0"], assignment_id=lease.assignment_id, rating=RIGHT)
    assert held(engine, users["expert0"]) == 1
    state, _ = review.my_qualification(actor=actor(engine, users["expert0"]), queue="rating", engine=engine)
    assert state.judged == 1


def test_a_reviewer_who_fails_gets_nothing_until_a_lead_allows_a_retry(any_engine, team):
    for _ in range(3):
        judge(any_engine, team["expert1"], WRONG)
    assert standing(any_engine, team["expert1"]) == "failed"
    assert judge(any_engine, team["expert1"], RIGHT) is None
    assert ratings_by(any_engine, team["expert1"]) == 0 and held(any_engine, team["expert1"], "discarded") == 3
    state, _ = review.my_qualification(actor=actor(any_engine, team["expert1"]), queue="rating", engine=any_engine)
    assert (state.status, state.attempt, state.held) == ("failed", 1, 0)
    review.allow_retry(actor=actor(any_engine, team["lea"]), queue="rating", user="expert1", engine=any_engine)
    served = [judge(any_engine, team["expert1"], RIGHT).work_item_id for _ in range(3)]
    assert all(is_gold(any_engine, item) for item in served) and len(set(served)) == 3  # the gold items again
    assert standing(any_engine, team["expert1"]) == "qualified" and ratings_by(any_engine, team["expert1"]) == 3
    assert actions(any_engine) == [
        "qualification.start",
        "qualification.fail",
        "qualification.retry",
        "qualification.pass",
    ]


class GoldFirst(random.Random):
    """A draw that always mixes in a gold item where the queue has a gold share."""

    def random(self) -> float:
        return 0.0


def slipping(engine, team) -> list[int]:
    """expert2 qualifies (3 of 3 right), rates 4 plain items, then gets 3 new gold items wrong: 3 right of the last 6
    gold items is 0.5, below the pass share 0.6, so they are paused at the third. Returns the plain items."""
    for _ in range(3):
        judge(engine, team["expert2"], RIGHT)
    plain = [judge(engine, team["expert2"], RIGHT).work_item_id for _ in range(4)]
    with session_scope(engine, write=True) as s:
        query = select(WorkItem.id).where(WorkItem.queue == "rating", WorkItem.done == 0, ~WorkItem.is_gold)
        for item_id in s.execute(query.order_by(WorkItem.id.desc()).limit(3)).scalars().all():
            mark_gold(s, work_item_id=item_id, answer={"accuracy": 4}, actor_id=team["admin"])
    review.configure_queue(actor=actor(engine, team["admin"]), queue="rating", gold_share=0.5, engine=engine)
    for n in range(3):
        assert standing(engine, team["expert2"]) == "qualified", n
        lease = judge(engine, team["expert2"], WRONG, rng=GoldFirst())
        assert is_gold(engine, lease.work_item_id)
    return plain


def done_counts(engine, items: list[int]) -> list[tuple[int, bool]]:
    with session_scope(engine) as s:
        return [(s.get(WorkItem, item).done, s.get(WorkItem, item).open) for item in items]


def test_auto_pause_holds_the_judgments_since_the_last_gold_item_passed_until_a_lead_releases_them(any_engine, team):
    lead, admin = actor(any_engine, team["lea"]), actor(any_engine, team["admin"])
    plain = slipping(any_engine, team)
    assert standing(any_engine, team["expert2"]) == "paused"
    # the 4 plain ratings and the 3 wrong gold ones are held; the qualifying gold items (passed) still count
    assert held(any_engine, team["expert2"]) == 7 and ratings_by(any_engine, team["expert2"]) == 3
    assert done_counts(any_engine, plain) == [(0, True)] * 4  # back in the queue for the others
    assert judge(any_engine, team["expert2"], RIGHT) is None  # paused: nothing served
    (state,) = [s for s in review.qualification_standings(actor=lead, engine=any_engine) if s.user == "expert2"]
    assert (state.status, state.held) == ("paused", 7)
    status = {q.queue: q for q in review.queue_overview(actor=admin, engine=any_engine).status}
    assert status["rating"].provisional == 7
    assert review.release_held(actor=lead, queue="rating", user="expert2", engine=any_engine) == 7
    assert ratings_by(any_engine, team["expert2"]) == 10 and held(any_engine, team["expert2"]) == 0
    assert done_counts(any_engine, plain) == [(1, False)] * 4
    assert standing(any_engine, team["expert2"]) == "qualified"
    assert judge(any_engine, team["expert2"], RIGHT) is not None  # served again
    assert actions(any_engine)[-2:] == ["qualification.pause", "qualification.release"]


def test_a_lead_discards_a_paused_reviewers_held_judgments_and_the_reviewer_qualifies_again(any_engine, team):
    lead = actor(any_engine, team["lea"])
    plain = slipping(any_engine, team)
    assert review.discard_held(actor=lead, queue="rating", user="expert2", engine=any_engine) == 7
    assert held(any_engine, team["expert2"]) == 0 and held(any_engine, team["expert2"], "discarded") == 7
    assert ratings_by(any_engine, team["expert2"]) == 3
    assert done_counts(any_engine, plain) == [(0, True)] * 4
    state, _ = review.my_qualification(actor=actor(any_engine, team["expert2"]), queue="rating", engine=any_engine)
    assert (state.status, state.attempt, state.judged) == ("qualifying", 2, 0)
    lease = judge(any_engine, team["expert2"], RIGHT)
    assert is_gold(any_engine, lease.work_item_id) and held(any_engine, team["expert2"]) == 1
    with session_scope(any_engine) as s:
        decided = s.execute(select(ProvisionalJudgment.decided_by).where(ProvisionalJudgment.status == "discarded"))
        assert set(decided.scalars()) == {team["lea"]}
        events = s.execute(select(AuditEvent.action).where(AuditEvent.entity == "provisional_judgment")).scalars()
        assert Counter(events) == {
            "provisional_judgment.hold": 11,  # the first attempt's 3 gold items, the 7 paused, the new attempt's first
            "provisional_judgment.release": 3,  # the 3 gold items, when that attempt passed
            "provisional_judgment.discard": 7,
        }


@pytest.mark.parametrize(
    ("qualify", "pass_share", "reason"),
    [
        (4, 0.8, "the rating queue has 3 gold items, so a qualification can take 1 to 3 of them, not 4"),
        (-1, 0.8, "--qualify takes a number of gold items, or 0 to turn the gate off"),
        (2, 0.0, "the pass share must be above 0 and at most 1"),
        (2, 1.5, "the pass share must be above 0 and at most 1"),
    ],
)
def test_a_gate_out_of_range_is_refused_with_the_reason_and_nothing_changes(
    engine, tmp_path, qualify, pass_share, reason
):
    users = gated(engine, tmp_path)
    before = table_counts(engine)
    with pytest.raises(QueueError, match=reason):
        review.configure_gate(
            actor=actor(engine, users["lea"]), queue="rating", qualify=qualify, pass_share=pass_share, engine=engine
        )
    assert table_counts(engine) == before
    with pytest.raises(QueueError, match="has no gold items"):
        review.configure_gate(actor=actor(engine, users["lea"]), queue="adjudication", qualify=1, engine=engine)


def test_only_leads_and_admins_set_the_gate_and_decide_on_standings(engine, tmp_path):
    users = gated(engine, tmp_path)
    for _ in range(3):
        judge(engine, users["expert1"], WRONG)
    expert = actor(engine, users["expert0"])
    before = table_counts(engine)
    refused = [
        lambda: review.configure_gate(actor=expert, queue="rating", qualify=1, engine=engine),
        lambda: review.qualification_standings(actor=expert, engine=engine),
        lambda: review.allow_retry(actor=expert, queue="rating", user="expert1", engine=engine),
        lambda: review.release_held(actor=expert, queue="rating", user="expert1", engine=engine),
        lambda: review.discard_held(actor=expert, queue="rating", user="expert1", engine=engine),
    ]
    for action in refused:
        with pytest.raises(Forbidden):
            action()
    assert table_counts(engine) == before
    admin = actor(engine, users["admin"])
    with pytest.raises(
        QualificationError, match=r"Only a reviewer who is paused .* can be released; this one is failed"
    ):
        review.release_held(actor=admin, queue="rating", user="expert1", engine=engine)
    with pytest.raises(QualificationError, match="no user named 'nobody'"):
        review.allow_retry(actor=admin, queue="rating", user="nobody", engine=engine)
    review.allow_retry(actor=admin, queue="rating", user="expert1", engine=engine)
    assert standing(engine, users["expert1"]) == "qualifying"


def test_the_cli_sets_the_gate_lists_standings_and_takes_the_lead_actions(engine, tmp_path, capsys):
    users = gated(engine, tmp_path)
    assert main(["queue", "configure", "rating", "--qualify", "2", "--pass-share", "0.5", "--as", "lea"]) == 0
    assert "rating: qualification gate 2 gold items at 50% right" in capsys.readouterr().out
    assert main(["queue", "configure", "rating", "--qualify", "9", "--as", "lea"]) == 1
    assert "not 9" in capsys.readouterr().err
    judge(engine, users["expert1"], WRONG)
    judge(engine, users["expert1"], WRONG)
    assert main(["queue", "qualification", "rating", "--as", "lea"]) == 0
    assert "expert1          failed           1       0/2           0" in capsys.readouterr().out
    assert main(["queue", "allow-retry", "rating", "expert1", "--as", "lea"]) == 0
    assert "expert1 may qualify again on the rating queue" in capsys.readouterr().out
    judge(engine, users["expert1"], RIGHT)
    assert main(["queue", "status", "--as", "admin"]) == 0
    assert capsys.readouterr().out.splitlines()[1].split()[-1] == "1"  # the rating queue: 1 provisional judgment
    assert main(["queue", "qualification", "--format", "json", "--as", "lea"]) == 0
    assert '"held": 1' in capsys.readouterr().out
    assert main(["queue", "release", "rating", "expert1", "--as", "lea"]) == 1
    assert "can be released; this one is qualifying" in capsys.readouterr().err
    assert main(["queue", "discard", "rating", "expert1", "--as", "expert0"]) == 1
    assert main(["queue", "configure", "rating", "--qualify", "0", "--as", "lea"]) == 0
    assert "qualification gate off" in capsys.readouterr().out

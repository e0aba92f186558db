"""Named assignment: a lead gives open items to named reviewers, who get them first and alone until the due day
passes or the lead takes them back; round robin, the refusals, two leads at once, progress, the CLI and the pages."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from core.accounts.users import create_user
from core.cli.main import main
from core.review import assignee_progress, assignment, queues
from core.review import service as review
from core.review.judgments import RatingIn, submit_rating
from core.review.queues import QueueError
from core.store.db import session_scope
from core.store.models import AuditEvent, NamedAssignment, User, WorkItem, utcnow
from tests.app_helpers import app, fresh_streamlit_cache, page, texts  # noqa: F401
from tests.review_store import PASSWORD, actor, build, table_counts

GOOD = RatingIn(helpfulness=4, harmlessness=5, accuracy=4)


def staffed(engine, tmp_path) -> dict[str, int]:
    """6 rating items (3 prompts, two answers each; topics deductions, vat, deductions), 3 experts, an admin, a lead,
    an annotator and an inactive expert."""
    users = build(engine, tmp_path, prompts=3)
    with session_scope(engine, write=True) as s:
        users["lea"] = create_user(s, username="lea", role="lead", password=PASSWORD).id
        users["ann"] = create_user(s, username="ann", role="annotator", password=PASSWORD).id
        s.add(User(username="gone", role="expert", active=False))
    return users


@pytest.fixture
def team(any_engine, tmp_path):
    return staffed(any_engine, tmp_path)


@pytest.fixture
def sqlite_team(engine, tmp_path):
    return staffed(engine, tmp_path)


def rating_items(engine) -> list[int]:
    """The rating queue's items in its order."""
    with session_scope(engine) as s:
        query = select(WorkItem.id).where(WorkItem.queue == "rating").order_by(WorkItem.priority.desc(), WorkItem.id)
        return list(s.execute(query).scalars())


def take(engine, user_id, now=None):
    with session_scope(engine, write=True) as s:
        return queues.next_item(s, queue="rating", user_id=user_id, now=now)


def take_all(engine, user_id, now=None) -> list[int]:
    """The items the reviewer gets, one after another, rating each."""
    got = []
    while (lease := take(engine, user_id, now)) is not None:
        got.append(lease.work_item_id)
        with session_scope(engine, write=True) as s:
            submit_rating(s, user_id=user_id, assignment_id=lease.assignment_id, rating=GOOD, now=now)
    return got


def assign(engine, lead_id, **kwargs):
    return review.assign(actor=actor(engine, lead_id), engine=engine, **kwargs)


def standing_rows(engine) -> list[tuple[int, str]]:
    with session_scope(engine) as s:
        query = (
            select(NamedAssignment.work_item_id, User.username)
            .join(User, User.id == NamedAssignment.user_id)
            .where(NamedAssignment.ended_at.is_(None))
            .order_by(NamedAssignment.work_item_id)
        )
        return [tuple(row) for row in s.execute(query)]


def test_assigned_items_go_first_to_their_reviewer_and_to_nobody_else(any_engine, team):
    items = rating_items(any_engine)
    ids = items[3:5]
    done = assign(any_engine, team["lea"], queue="rating", to=["expert1"], ids=ids)
    assert done.summary() == "Assigned 2 items of rating: expert1 2."
    assert take_all(any_engine, team["expert0"]) == [i for i in items if i not in ids]  # never the assigned two
    assert take_all(any_engine, team["expert1"]) == ids  # theirs first; the pool is empty now (k = 1)
    assert standing_rows(any_engine) == []  # judged: both ended
    with session_scope(any_engine) as s:
        outcomes = s.execute(select(NamedAssignment.outcome)).scalars().all()
    assert outcomes == ["done", "done"]


def test_an_assignment_with_the_earliest_due_day_comes_first_then_the_queue_order(any_engine, team):
    items = rating_items(any_engine)
    today = utcnow().date()
    assign(any_engine, team["lea"], queue="rating", to=["expert0"], ids=[items[0], items[1]])  # no due day
    assign(any_engine, team["lea"], queue="rating", to=["expert0"], ids=[items[5]], due=today + timedelta(days=3))
    assign(any_engine, team["lea"], queue="rating", to=["expert0"], ids=[items[4]], due=today + timedelta(days=1))
    assert take_all(any_engine, team["expert0"]) == [items[4], items[5], items[0], items[1], items[2], items[3]]


def test_an_assignment_past_its_due_day_returns_its_item_to_the_pool(any_engine, team):
    items = rating_items(any_engine)
    now = utcnow()
    assign(any_engine, team["lea"], queue="rating", to=["expert1"], ids=[items[0]], due=now.date())
    assert take(any_engine, team["expert0"], now=now).work_item_id == items[1]  # the first is expert1's today
    tomorrow = now + timedelta(days=1)
    assert take(any_engine, team["expert2"], now=tomorrow).work_item_id == items[0]  # past its due day: anyone's
    with session_scope(any_engine, write=True) as s:  # assigned again: the expired row is closed on the way
        again = assignment.assign(s, queue="rating", usernames=["expert0"], actor_id=team["lea"], ids=[items[0]],
                                  now=tomorrow)  # fmt: skip
    with session_scope(any_engine) as s:
        rows = s.execute(select(NamedAssignment.user_id, NamedAssignment.outcome).order_by(NamedAssignment.id)).all()
    assert again.total == 1
    assert [tuple(row) for row in rows] == [(team["expert1"], "expired"), (team["expert0"], None)]


def test_round_robin_deals_the_items_evenly_and_skips_what_a_reviewer_judged(any_engine, team):
    first = take(any_engine, team["expert0"])
    with session_scope(any_engine, write=True) as s:
        submit_rating(s, user_id=team["expert0"], assignment_id=first.assignment_id, rating=GOOD)
    done = assign(any_engine, team["lea"], queue="rating", to=["expert0", "expert1", "expert2"], count=5)
    assert done.per_reviewer == {"expert0": 2, "expert1": 2, "expert2": 1}
    held = standing_rows(any_engine)
    assert len(held) == 5 and first.work_item_id not in [item for item, _ in held]  # judged and closed (k = 1)
    with session_scope(any_engine) as s:
        events = s.execute(select(AuditEvent).where(AuditEvent.action == "work_item.assign")).scalars().all()
    assert sorted((e.entity_id, e.after["assignee"]) for e in events) == held  # one audit event per item
    assert {e.actor_id for e in events} == {team["lea"]}


def test_items_chosen_by_topic_version_and_source(any_engine, team):
    vat = assign(any_engine, team["lea"], queue="rating", to=["expert0"], topic="vat")
    assert vat.total == 2  # prompt 1's two answers
    v2 = assign(any_engine, team["lea"], queue="rating", to=["expert1"], version="bot-v2", source="import")
    assert v2.total == 2  # prompts 0 and 2's bot-v2 answers (prompt 1's are assigned already)
    with pytest.raises(QueueError, match=r"There are 0 open, unassigned rating items of topic 'vat'"):
        assign(any_engine, team["lea"], queue="rating", to=["expert2"], topic="vat", count=1)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"to": ["nobody"], "count": 1}, "No user named 'nobody'"),
        ({"to": ["gone"], "count": 1}, "'gone': inactive account"),
        ({"to": ["ann"], "count": 1}, "'ann' is annotator: only experts, expert leads, admins judge the rating"),
        ({"to": ["expert0"], "count": 7}, "There are 6 open, unassigned rating items that expert0 did not judge or "
                                          "skip: ask for 6 or fewer"),
        ({"to": ["expert0"], "ids": [10_000]}, "Not open items of the rating queue: 10000"),
        ({"to": ["expert0"], "due": "yesterday"}, "is in the past"),
        ({"to": ["expert0"], "ids": [1], "count": 1}, "not both"),
        ({"to": ["expert0"], "ids": []}, "holds no work item ids"),
        ({"to": ["expert0"], "version": "bot-v9"}, "No model version named 'bot-v9'"),
    ],
)  # fmt: skip
def test_bad_assignments_are_refused_with_the_reason_and_change_nothing(engine, sqlite_team, arguments, message):
    if arguments.get("due") == "yesterday":
        arguments = arguments | {"due": utcnow().date() - timedelta(days=1), "count": 1}
    before = table_counts(engine)
    with pytest.raises(QueueError, match=message):
        assign(engine, sqlite_team["lea"], queue="rating", **arguments)
    assert table_counts(engine) == before


def test_an_item_assigned_already_or_judged_by_the_reviewer_is_refused_by_id(engine, sqlite_team):
    items = rating_items(engine)
    assign(engine, sqlite_team["lea"], queue="rating", to=["expert1"], ids=[items[0]])
    with pytest.raises(QueueError, match=rf"Assigned already \(to expert1\): {items[0]}\. Take them back first"):
        assign(engine, sqlite_team["lea"], queue="rating", to=["expert2"], ids=[items[0], items[1]])
    lease = take(engine, sqlite_team["expert0"])  # expert0 skips items[1]: it never comes back to them
    with session_scope(engine, write=True) as s:
        queues.skip(s, queue="rating", assignment_id=lease.assignment_id, user_id=sqlite_team["expert0"])
    with pytest.raises(QueueError, match=rf"Judged or skipped already by expert0: {lease.work_item_id}\."):
        assign(engine, sqlite_team["lea"], queue="rating", to=["expert0"], ids=[lease.work_item_id])


def test_taking_back_returns_the_items_to_the_pool_with_an_event_each(any_engine, team):
    items = rating_items(any_engine)
    assign(any_engine, team["lea"], queue="rating", to=["expert1"], ids=items[:3])
    lead = actor(any_engine, team["lea"])
    with pytest.raises(QueueError, match=f"Not assigned in rating to expert1 now: {items[4]}"):
        review.unassign(actor=lead, queue="rating", users=["expert1"], ids=[items[0], items[4]], engine=any_engine)
    back = review.unassign(actor=lead, queue="rating", users=["expert1"], ids=[items[0]], engine=any_engine)
    assert back.summary() == "Took back 1 item of rating (expert1 1): back in the pool."
    assert take(any_engine, team["expert0"]).work_item_id == items[0]
    back = review.unassign(actor=lead, queue="rating", users=["expert1"], engine=any_engine)
    assert back.total == 2 and standing_rows(any_engine) == []
    with pytest.raises(QueueError, match="expert1 hold no assignment in the rating queue"):
        review.unassign(actor=lead, queue="rating", users=["expert1"], engine=any_engine)
    with session_scope(any_engine) as s:
        events = s.execute(select(AuditEvent).where(AuditEvent.action == "work_item.take_back")).scalars().all()
    assert sorted(e.entity_id for e in events) == items[:3]


def test_two_leads_assigning_the_same_items_at_once_leave_each_item_one_reviewer(any_engine, team):
    items = rating_items(any_engine)
    with session_scope(any_engine, write=True) as s:
        second_lead = create_user(s, username="leo", role="lead", password=PASSWORD).id
    barrier, outcomes = threading.Barrier(2), {}

    def lead(lead_id: int, reviewer: str) -> None:
        barrier.wait()
        try:
            outcomes[reviewer] = assign(any_engine, lead_id, queue="rating", to=[reviewer], ids=items).total
        except QueueError as error:
            outcomes[reviewer] = str(error)

    threads = [
        threading.Thread(target=lead, args=args) for args in ((team["lea"], "expert0"), (second_lead, "expert1"))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winner = next(name for name, outcome in outcomes.items() if outcome == len(items))
    loser = ({"expert0", "expert1"} - {winner}).pop()
    assert "Assigned already" in outcomes[loser] or "Try again" in outcomes[loser]
    assert standing_rows(any_engine) == [(item, winner) for item in items]
    with session_scope(any_engine) as s:
        events = s.execute(select(func.count()).where(AuditEvent.action == "work_item.assign")).scalar_one()
    assert events == len(items)


def test_progress_counts_each_reviewers_assignments_and_their_median_time(any_engine, team):
    items = rating_items(any_engine)
    now = utcnow()
    assign(any_engine, team["lea"], queue="rating", to=["expert0", "expert1"], ids=items[:4], due=now.date())
    assign(any_engine, team["lea"], queue="rating", to=["expert2"], ids=items[4:])
    for seconds in (30, 90):  # expert0 judges both of theirs, 30 s and 90 s each
        lease = take(any_engine, team["expert0"], now=now)
        with session_scope(any_engine, write=True) as s:
            submit_rating(s, user_id=team["expert0"], assignment_id=lease.assignment_id, rating=GOOD,
                          now=now + timedelta(seconds=seconds))  # fmt: skip
            now += timedelta(seconds=seconds)
    lease = take(any_engine, team["expert2"])
    with session_scope(any_engine, write=True) as s:
        queues.skip(s, queue="rating", assignment_id=lease.assignment_id, user_id=team["expert2"])
    review.unassign(actor=actor(any_engine, team["lea"]), queue="rating", users=["expert1"], ids=[items[1]],
                    engine=any_engine)  # fmt: skip
    with session_scope(any_engine) as s:
        later = assignee_progress.assignee_progress(s, now=now + timedelta(days=1))  # expert1's other one is overdue
    assert [(p.user, p.assigned, p.open, p.done, p.skipped, p.overdue, p.median_seconds) for p in later] == [
        ("expert0", 2, 0, 2, 0, 0, 60.0),
        ("expert1", 1, 0, 0, 0, 1, None),
        ("expert2", 2, 1, 0, 1, 0, None),
    ]


def test_the_home_page_says_how_many_items_are_assigned_and_when_they_are_due(engine, sqlite_team):
    items = rating_items(engine)
    today = utcnow().date()
    assign(engine, sqlite_team["lea"], queue="rating", to=["expert0"], ids=items[:2], due=today + timedelta(days=2))
    assign(engine, sqlite_team["lea"], queue="rating", to=["expert0"], ids=items[2:3], due=today + timedelta(days=9))
    due = today + timedelta(days=2)
    at = app(actor(engine, sqlite_team["expert0"])).switch_page(page("home")).run()
    assert not at.exception
    assert texts(at.info) == [f"Assigned to you: 3, due {due:%d %b %Y} (rating 3)."]
    at = app(actor(engine, sqlite_team["expert1"])).switch_page(page("home")).run()
    assert not at.exception and texts(at.info) == []


def test_the_cli_assigns_from_a_file_of_ids_and_reports_progress_as_json(engine, sqlite_team, tmp_path, capsys):
    items = rating_items(engine)
    ids = tmp_path / "ids.txt"
    ids.write_text(f"# the first two\n{items[0]}\n{items[1]}, {items[1]}\n")
    due = utcnow().date() + timedelta(days=5)
    argv = ["queue", "assign", "rating", "--to", "expert0", "--to", "expert1", "--ids", str(ids), "--due", f"{due}"]
    assert main([*argv, "--as", "lea"]) == 0
    assert capsys.readouterr().out.strip() == f"Assigned 2 items of rating: expert0 1, expert1 1; due {due:%d %b %Y}."
    assert main(["queue", "status", "--by-assignee", "--format", "json", "--as", "lea"]) == 0
    assert json.loads(capsys.readouterr().out) == [
        {"queue": "rating", "user": user, "assigned": 1, "open": 1, "done": 0, "skipped": 0, "overdue": 0,
         "median_seconds": None}
        for user in ("expert0", "expert1")
    ]  # fmt: skip
    assert main(["queue", "unassign", "rating", "--from", "expert0", "--as", "lea"]) == 0
    assert "Took back 1 item of rating (expert0 1)" in capsys.readouterr().out
    bad = tmp_path / "bad.txt"
    bad.write_text(f"{items[2]}\nitem-7\n")
    assert main(["queue", "assign", "rating", "--to", "expert0", "--ids", str(bad), "--as", "lea"]) == 1
    assert "bad.txt, line 2: 'item-7' is not a work item id" in capsys.readouterr().err
    assert main(["queue", "assign", "rating", "--to", "expert0", "--count", "1", "--as", "expert0"]) == 1
    assert "Only expert leads and admins may assign review items" in capsys.readouterr().err


def test_a_lead_assigns_on_the_review_queues_page_and_sees_the_progress(engine, sqlite_team):
    lead = actor(engine, sqlite_team["lea"])
    at = app(lead).switch_page(page("queues")).run()
    assert not at.exception
    assert "Save" not in [b.label for b in at.button] and not at.dataframe  # the settings stay admin-only
    at.multiselect(key="assign-to").set_value(["expert0", "expert2"])
    at.number_input(key="assign-count").set_value(2)
    at.selectbox(key="assign-topic").set_value("vat")
    next(b for b in at.button if b.label == "Assign").click()
    at.run()
    assert not at.exception and not at.error
    assert texts(at.success) == ["Assigned 2 items of rating: expert0 1, expert2 1."]
    progress = at.dataframe[0].value.set_index("Reviewer")
    assert progress.loc["expert0", "Assigned"] == 1 and progress.loc["expert2", "Open"] == 1
    assert len(standing_rows(engine)) == 2


def test_an_item_finished_by_a_reviewer_who_held_it_before_it_was_assigned_ends_the_assignment(any_engine, team):
    held = take(any_engine, team["expert0"])  # expert0 holds the first item, then the lead assigns it to expert1
    assign(any_engine, team["lea"], queue="rating", to=["expert1"], ids=[held.work_item_id])
    with session_scope(any_engine, write=True) as s:  # expert0's rating closes it (k = 1)
        submit_rating(s, user_id=team["expert0"], assignment_id=held.assignment_id, rating=GOOD)
    assert standing_rows(any_engine) == []
    with session_scope(any_engine) as s:
        assert s.execute(select(NamedAssignment.outcome)).scalar_one() == "closed"
        (progress,) = assignee_progress.assignee_progress(s)
    assert (progress.user, progress.assigned, progress.open, progress.done, progress.overdue) == ("expert1", 1, 0, 0, 0)


def test_on_postgresql_a_lead_who_loses_the_race_is_told_to_try_again_and_nothing_is_assigned(pg_engine, tmp_path):
    users = staffed(pg_engine, tmp_path)
    items = rating_items(pg_engine)
    outcome = {}

    def second_lead() -> None:  # waits on the first lead's uncommitted row of items[1], then loses
        try:
            assign(pg_engine, users["lea"], queue="rating", to=["expert1"], ids=[items[0], items[1]])
        except QueueError as error:
            outcome["error"] = str(error)

    with session_scope(pg_engine, write=True) as s:
        assignment.assign(s, queue="rating", usernames=["expert0"], actor_id=users["lea"], ids=[items[1]])
        racer = threading.Thread(target=second_lead)
        racer.start()
        racer.join(timeout=1.0)  # it blocks on the standing index until this transaction ends
        assert racer.is_alive()
    racer.join()
    assert "assigned some of these items at the same moment: nothing was assigned. Try again." in outcome["error"]
    assert standing_rows(pg_engine) == [(items[1], "expert0")]

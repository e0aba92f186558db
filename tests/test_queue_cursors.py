"""A reviewer's cursor: the search for their next item starts past the items they judged that stay open for others,
without changing which item they get."""

from __future__ import annotations

from datetime import timedelta

from core.review import queues, settings
from core.review.judgments import RatingIn, submit_rating
from core.store.db import session_scope
from core.store.models import Response, utcnow
from tests.review_store import build

GOOD = RatingIn(helpfulness=4, harmlessness=5, accuracy=4)


def take(engine, user_id, now=None, steps=None):
    """The reviewer's next rating item; with `steps` (a list, SQLite), the SQLite VM instructions it ran."""
    with session_scope(engine, write=True) as s:
        if steps is not None:
            connection = s.connection().connection.dbapi_connection
            count = [0]
            connection.set_progress_handler(lambda: count.__setitem__(0, count[0] + 1), 1)
        lease = queues.next_item(s, queue="rating", user_id=user_id, now=now)
        if steps is not None:
            connection.set_progress_handler(None, 1)
            steps.append(count[0])
        return lease


def rate(engine, user_id, lease):
    with session_scope(engine, write=True) as s:
        submit_rating(s, user_id=user_id, assignment_id=lease.assignment_id, rating=GOOD)


def text(engine, lease):
    with session_scope(engine) as s:
        return s.get(Response, lease.subject_id).text


def test_a_reviewer_ahead_of_the_others_does_not_walk_past_what_they_judged(engine, tmp_path):
    """With k = 2 every item the first reviewer judges stays open for a second: the work of finding their next item
    stays the same after 290 of them as after 10 (counted in SQLite VM instructions, not time)."""
    users = build(engine, tmp_path, prompts=150, rating_k=2)
    steps = []
    for n in range(300):
        lease = take(engine, users["expert0"], steps=steps if n in (10, 290) else None)
        rate(engine, users["expert0"], lease)
    early, late = steps
    assert late < 1.5 * early, steps


def test_every_item_is_served_in_the_queue_order_as_before(any_engine, tmp_path):
    users = build(any_engine, tmp_path, prompts=3, rating_k=2)
    order = []
    for user in ("expert0", "expert1"):
        while (lease := take(any_engine, users[user])) is not None:
            order.append((user, text(any_engine, lease)))
            rate(any_engine, users[user], lease)
    answers = [f"v{v} answer {i}" for i in range(3) for v in (1, 2)]
    assert order == [("expert0", a) for a in answers] + [("expert1", a) for a in answers]
    assert take(any_engine, users["expert2"]) is None  # k = 2 reached everywhere


def test_items_reopened_before_the_cursor_are_served_first(any_engine, tmp_path):
    users = build(any_engine, tmp_path, prompts=3, rating_k=2)
    with session_scope(any_engine, write=True) as s:
        settings.configure(s, queue="rating", actor_id=users["admin"], versions=["bot-v2"])
    for _ in range(2):
        rate(any_engine, users["expert0"], take(any_engine, users["expert0"]))
    with session_scope(any_engine, write=True) as s:  # bot-v1's answers come back, ahead of the cursor
        settings.configure(s, queue="rating", actor_id=users["admin"], versions=["bot-v1", "bot-v2"])
    served = []
    while (lease := take(any_engine, users["expert0"])) is not None:
        served.append(text(any_engine, lease))
        rate(any_engine, users["expert0"], lease)
    assert served == ["v1 answer 0", "v1 answer 1", "v1 answer 2", "v2 answer 2"]


def test_an_item_full_when_the_reviewer_passed_it_comes_back_to_them_once_freed(any_engine, tmp_path):
    users = build(any_engine, tmp_path, prompts=2, rating_k=2)
    now = utcnow()
    held = take(any_engine, users["expert1"], now=now)
    assert take(any_engine, users["expert2"], now=now).work_item_id == held.work_item_id  # both places held
    passed = take(any_engine, users["expert0"], now=now)
    assert text(any_engine, passed) == "v2 answer 0"
    rate(any_engine, users["expert0"], passed)
    later = now + timedelta(minutes=16)  # the two leases on the first item expire
    assert text(any_engine, take(any_engine, users["expert0"], now=later)) == "v1 answer 0"

"""Home-page counts per role and the store inventory, on a tiny store whose every number is known."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.auth import UserPublic
from core.reports.home import Count, age, home_counts
from core.review import queues, settings
from core.store.db import session_scope
from core.store.inventory import ImportLine, VersionRow, model_versions, recent_imports, store_inventory, table_counts
from core.store.models import (
    Comparison,
    ImportRun,
    ModelVersion,
    ModerationItem,
    ModerationLabel,
    ModerationScore,
    Prompt,
    Rating,
    Response,
    User,
)

NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
TODAY = NOW - timedelta(hours=1)
YESTERDAY = NOW - timedelta(hours=16)  # 23:00 the day before


def _user(session, username: str, role: str) -> UserPublic:
    user = User(username=username, display_name=username.title(), role=role)
    session.add(user)
    session.flush()
    return UserPublic.of(user)


def _rating(key: str, response: Response, user: UserPublic, at: datetime) -> Rating:
    return Rating(
        key=key, response_id=response.id, user_id=user.id, helpfulness=4, harmlessness=5, accuracy=4, created_at=at
    )


@pytest.fixture
def store(any_engine):
    """4 prompts, 7 answers, 3 ratings, 1 comparison, 3 borderline moderation items with 2 labels, 2 import runs;
    the review queues serve both chatbot versions, ratings with k=1 and comparisons with k=2, the moderation queue
    mod-v1's items with k=2.

    p1: bot-v1 + bot-v2, compared once; p2: bot-v1 + bot-v2, not compared; p3: bot-v1 only; p4: two bot-v1 answers."""
    with session_scope(any_engine, write=True) as s:
        users = {
            "expert": _user(s, "eve", "expert"),
            "expert2": _user(s, "ed", "expert"),
            "annotator": _user(s, "ann", "annotator"),
            "admin": _user(s, "ada", "admin"),
            "product_owner": _user(s, "pat", "product_owner"),
        }
        v1, v2 = ModelVersion(name="bot-v1", kind="chatbot"), ModelVersion(name="bot-v2", kind="chatbot")
        mod, rm = ModelVersion(name="mod-v1", kind="moderation"), ModelVersion(name="rm-1", kind="reward")
        s.add_all([v1, v2, mod, rm])
        prompts = [Prompt(external_id=f"p{i}", text=f"Question {i}?") for i in range(1, 5)]
        s.add_all(prompts)
        s.flush()
        p1, p2, p3, p4 = prompts
        placed = [(p1, v1), (p1, v2), (p2, v1), (p2, v2), (p3, v1), (p4, v1), (p4, v1)]
        r = [
            Response(external_id=f"r{i}", prompt_id=p.id, model_version_id=v.id, text=f"answer {i}")
            for i, (p, v) in enumerate(placed, start=1)
        ]
        s.add_all(r)
        s.flush()
        e, e2 = users["expert"], users["expert2"]
        s.add_all(
            [
                _rating("k1", r[0], e, TODAY),
                _rating("k2", r[1], e2, YESTERDAY),
                _rating("k3", r[2], e, YESTERDAY),
                Comparison(
                    key="c1",
                    prompt_id=p1.id,
                    response_a_id=r[0].id,
                    response_b_id=r[1].id,
                    version_a_id=v1.id,
                    version_b_id=v2.id,
                    choice="a",
                    strength="clear",
                    user_id=e.id,
                    created_at=TODAY,
                ),
            ]
        )
        items = [ModerationItem(external_id=f"m{i}", text=f"comment {i}") for i in range(1, 4)]
        s.add_all(items)
        s.flush()
        s.add_all(  # all three borderline for the moderation queue
            ModerationScore(item_id=item.id, model_version_id=mod.id, score=0.5, predicted_label="toxic")
            for item in items
        )
        a = users["annotator"]
        s.add_all(
            [
                ModerationLabel(key="l1", item_id=items[0].id, user_id=a.id, label="toxic", created_at=TODAY),
                ModerationLabel(key="l2", item_id=items[1].id, user_id=a.id, label="not_toxic", created_at=YESTERDAY),
                ImportRun(
                    kind="conversations",
                    file_name="logs.jsonl",
                    status="done",
                    rows_read=4,
                    rows_added=7,
                    started_at=YESTERDAY,
                    finished_at=YESTERDAY,
                ),
                ImportRun(
                    kind="ratings",
                    file_name="bad.jsonl",
                    status="refused",
                    rows_read=2,
                    rows_refused=1,
                    started_at=TODAY,
                    finished_at=TODAY,
                ),
            ]
        )
        for queue, k in (("rating", 1), ("comparison", 2)):
            settings.configure(s, queue=queue, actor_id=users["admin"].id, versions=["bot-v1", "bot-v2"], k=k)
        settings.configure(s, queue="moderation", actor_id=users["admin"].id, k=2)
    return users


def counts_of(engine, user: UserPublic) -> dict[str, int | str]:
    with session_scope(engine) as s:
        return {c.label: c.value for c in home_counts(s, user, now=NOW)}


def test_expert_sees_what_the_queues_hold_for_them_and_own_work_today(any_engine, store):
    assert counts_of(any_engine, store["expert"]) == {
        "Answers to rate": 4,  # r4..r7: r1..r3 have their one rating
        "Pairs to compare": 1,  # p2; p1 needs a second comparison, but not from the expert who made the first
        "Your ratings today": 1,  # the one of yesterday does not count
        "Your comparisons today": 1,
    }
    other = counts_of(any_engine, store["expert2"])
    assert (other["Answers to rate"], other["Pairs to compare"], other["Your ratings today"]) == (4, 2, 0)


def test_a_skipped_item_is_no_longer_waiting_for_the_expert_who_skipped_it(any_engine, store):
    expert = store["expert2"].id
    with session_scope(any_engine, write=True) as s:
        lease = queues.next_item(s, queue="comparison", user_id=expert)
    assert counts_of(any_engine, store["expert2"])["Pairs to compare"] == 2  # one's own lease is still waiting
    with session_scope(any_engine, write=True) as s:
        queues.skip(s, queue="comparison", assignment_id=lease.assignment_id, user_id=expert)
    assert counts_of(any_engine, store["expert2"])["Pairs to compare"] == 1
    assert counts_of(any_engine, store["expert"])["Pairs to compare"] == 1


def test_annotator_sees_the_borderline_items_left_for_them_and_own_labels_today(any_engine, store):
    # m3: m1 and m2 still need a second label, but not from the annotator who gave the first
    assert counts_of(any_engine, store["annotator"]) == {"Items to label": 1, "Your labels today": 1}


def test_product_owner_sees_judgments_today_versions_by_kind_and_the_last_done_import(any_engine, store):
    assert counts_of(any_engine, store["product_owner"]) == {
        "Judgments today": 3,  # one rating, one comparison, one label
        "Chatbot versions": 2,
        "Moderation versions": 1,
        "Reward versions": 1,
        "Since last import": "16 h",  # the refused import of today does not count
    }
    with session_scope(any_engine) as s:
        (last,) = [c for c in home_counts(s, store["product_owner"], now=NOW) if c.label == "Since last import"]
    assert last.help == "logs.jsonl (conversations), finished 09 Mar 2026 23:00 UTC: 7 added."


@pytest.mark.parametrize(
    ("elapsed", "shown"),
    [
        (timedelta(seconds=30), "< 1 min"),
        (timedelta(minutes=25), "25 min"),
        (timedelta(hours=47, minutes=59), "47 h"),
        (timedelta(days=3, hours=5), "3 days"),
        (timedelta(minutes=-5), "< 1 min"),  # a clock a little ahead is not a negative age
    ],
)
def test_age_is_short_and_readable(elapsed, shown):
    assert age(NOW - elapsed, NOW) == shown
    assert age((NOW - elapsed).replace(tzinfo=None), NOW) == shown


def test_admin_sees_rows_of_the_main_tables(any_engine, store):
    assert counts_of(any_engine, store["admin"]) == {
        "Users": 5,
        "Model versions": 4,
        "Prompts": 4,
        "Answers": 7,
        "Ratings": 3,
        "Comparisons": 1,
        "Moderation items": 3,
        "Moderation labels": 2,
    }


def test_every_count_explains_itself(any_engine, store):
    with session_scope(any_engine) as s:
        counts = [c for user in store.values() for c in home_counts(s, user, now=NOW)]
    assert all(isinstance(c, Count) and c.help for c in counts)


def test_an_empty_store_counts_zero_and_has_never_imported(any_engine):
    with session_scope(any_engine, write=True) as s:
        owner, expert = _user(s, "pat", "product_owner"), _user(s, "eve", "expert")
    assert counts_of(any_engine, owner)["Since last import"] == "never"
    assert set(counts_of(any_engine, expert).values()) == {0}


def test_model_versions_list_answers_for_chatbots_and_scored_items_for_classifiers(any_engine, store):
    with session_scope(any_engine) as s:
        rows = sorted(model_versions(s), key=lambda v: v.name)
    assert [(v.name, v.kind, v.answers, v.scored_items) for v in rows] == [
        ("bot-v1", "chatbot", 5, None),
        ("bot-v2", "chatbot", 2, None),
        ("mod-v1", "moderation", None, 3),
        ("rm-1", "reward", None, None),
    ]
    assert all(isinstance(v, VersionRow) for v in rows)


def test_table_counts_cover_every_listed_table_and_can_be_narrowed(any_engine, store):
    with session_scope(any_engine) as s:
        every = {t.table: t.rows for t in table_counts(s)}
        some = table_counts(s, ("Answers", "Imports"))
    assert every["response"] == 7 and every["import_run"] == 2 and every["moderation_score"] == 3
    assert [(t.label, t.rows) for t in some] == [("Answers", 7), ("Imports", 2)]


def test_recent_imports_are_newest_first_and_filter_by_status(any_engine, store):
    with session_scope(any_engine) as s:
        every = recent_imports(s)
        done = recent_imports(s, status="done")
        inventory = store_inventory(s, imports=1)
    assert [(i.file_name, i.status) for i in every] == [("bad.jsonl", "refused"), ("logs.jsonl", "done")]
    assert done == [ImportLine(YESTERDAY, "conversations", "logs.jsonl", "done", 4, 7, 0, 0)]
    assert [i.file_name for i in inventory.imports] == ["bad.jsonl"]
    assert len(inventory.versions) == 4

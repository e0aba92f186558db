"""The final-label rule: an adjudication decides; otherwise labels that all agree; disagreement has none yet."""

from __future__ import annotations

import json

from sqlalchemy import select

from core.accounts.users import create_user
from core.ingest import import_file
from core.moderation.final_labels import final_categories, final_labels
from core.moderation.labels import LabelIn, submit_label
from core.review.queues import next_item
from core.store.db import session_scope
from core.store.models import Adjudication, ModerationItem
from tests.moderation_store import add_people, import_rows, label_row, score_row


def _labels(engine, tmp_path, rows):
    path = tmp_path / "labels.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    import_file(path, "labels", engine=engine)


def _row(item, annotator, label):
    return {"item_id": item, "text": f"text of {item}", "annotator": annotator, "label": label}


def test_agreement_decides_disagreement_waits_and_adjudication_overrides(any_engine, tmp_path):
    _labels(
        any_engine,
        tmp_path,
        [
            _row("agreed", "ann", "toxic"),
            _row("agreed", "ben", "toxic"),
            _row("split", "ann", "toxic"),
            _row("split", "ben", "not_toxic"),
            _row("overruled", "ann", "toxic"),
            _row("overruled", "ben", "toxic"),
            _row("single", "ann", "not_toxic"),
        ],
    )
    with session_scope(any_engine, write=True) as s:
        lead = create_user(s, username="lead", role="expert", password="lead-password").id
        ids = dict(s.execute(select(ModerationItem.external_id, ModerationItem.id)).all())
        s.add(Adjudication(item_id=ids["overruled"], user_id=lead, final_label="not_toxic", reason="satire"))
    with session_scope(any_engine) as s:
        final = final_labels()
        rows = s.execute(
            select(ModerationItem.external_id, final.c.label, final.c.basis, final.c.n_labels, final.c.external).join(
                final, final.c.item_id == ModerationItem.id
            )
        ).all()
    assert sorted(tuple(r) for r in rows) == [
        ("agreed", "toxic", "agreement", 2, 1),
        ("overruled", "not_toxic", "adjudication", 2, 1),
        ("single", "not_toxic", "agreement", 1, 1),
    ]


def test_an_app_label_is_final_once_no_more_are_expected(any_engine, tmp_path):
    """k = 2: one app label on an item that waits for its second is not final; two that agree are; an imported
    label is final on its own; an app label on an item that left the queue (no longer borderline) is final."""
    users = add_people(any_engine)
    import_rows(any_engine, tmp_path, "moderation", [score_row("x", "clf", 0.5), score_row("z", "clf", 0.45)])
    import_rows(any_engine, tmp_path, "labels", [label_row("y", "historic", "toxic")])

    def final() -> dict[str, tuple]:
        with session_scope(any_engine) as s:
            f = final_labels()
            rows = s.execute(
                select(ModerationItem.external_id, f.c.label, f.c.n_labels, f.c.external).join(
                    f, f.c.item_id == ModerationItem.id
                )
            )
            return {name: tuple(rest) for name, *rest in rows}

    def label(user: str) -> str:
        with session_scope(any_engine, write=True) as s:
            lease = next_item(s, queue="moderation", user_id=users[user])
            submit_label(s, user_id=users[user], assignment_id=lease.assignment_id, label=LabelIn("not_toxic"))
            return s.get(ModerationItem, lease.subject_id).external_id

    assert final() == {"y": ("toxic", 1, 1)}  # the imported label alone
    assert label("ann0") == "x"  # the most uncertain first
    assert "x" not in final()
    assert label("ann1") == "x"
    assert final()["x"] == ("not_toxic", 2, 0)
    assert label("ann2") == "z"  # one app label, one more expected
    assert "z" not in final()
    # a newer version is sure z is fine, as the older one was: z leaves the queue and its one label is final
    import_rows(any_engine, tmp_path, "moderation", [score_row("z", "clf-v2", 0.02), score_row("x", "clf-v2", 0.02)])
    assert final()["z"] == ("not_toxic", 1, 0)


def test_final_categories_are_the_adjudications_or_those_at_least_half_the_labels_name(engine, tmp_path):
    import_rows(
        engine,
        tmp_path,
        "labels",
        [
            label_row("two", "a", "toxic", ["harassment"]),
            label_row("two", "b", "toxic", ["harassment", "hate"]),
            label_row("three", "a", "toxic", ["spam"]),
            label_row("three", "b", "toxic", ["spam"]),
            label_row("three", "c", "toxic", ["violence", "spam"]),
            label_row("fine", "a", "not_toxic"),
            label_row("decided", "a", "toxic", ["hate"]),
            label_row("decided", "b", "not_toxic"),
        ],
    )
    with session_scope(engine, write=True) as s:
        lead = create_user(s, username="lead", role="expert", password="lead-password").id
        ids = dict(s.execute(select(ModerationItem.external_id, ModerationItem.id)).all())
        s.add(
            Adjudication(item_id=ids["decided"], user_id=lead, final_label="toxic", categories=["violence"], reason="r")
        )
    with session_scope(engine) as s:
        found = final_categories(s, ids.values())
    assert {name: found[i] for name, i in ids.items()} == {
        "two": ["harassment", "hate"],
        "three": ["spam"],
        "fine": [],
        "decided": ["violence"],
    }

"""The final-label rule: an adjudication decides; otherwise labels that all agree; disagreement has none yet."""

from __future__ import annotations

import json

from sqlalchemy import select

from core import auth
from core.db import session_scope
from core.ingest import import_file
from core.models import Adjudication, ModerationItem
from core.moderation.final_labels import final_labels


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
        lead = auth.create_user(s, username="lead", role="expert", password="lead-password").id
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
